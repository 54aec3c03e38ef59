import assert from "node:assert/strict";
import { gpuTest, randomArray, rng } from "../_util.ts";
import { rt, Tensor, tidy } from "../../tensor/tensor.ts";
import { add, backward, matmul, mean, relu, reshape, square, sub } from "../../tensor/ops.ts";
import { AdamW, type Optimizer, parameter, SGD } from "../../tensor/optim.ts";

/** A two-layer MLP regression step: forward, backward, optimizer step, zeroGrad; returns the loss tensor. */
function trainStep(params: Tensor[], opt: Optimizer, x: Tensor, y: Tensor): Tensor {
  const [w1, b1, w2, b2] = params;
  const loss = tidy(() => {
    const h = relu(add(matmul(x, w1), b1));
    const out = add(matmul(h, w2), b2);
    const l = mean(square(sub(out, y)));
    backward(l);
    return l;
  });
  opt.step();
  opt.zeroGrad();
  return loss;
}

async function checkFlat(
  makeOpt: (ps: Tensor[]) => Optimizer,
  stateBuffers: (nParams: number) => number,
  salt: number,
) {
  const r = rng(salt);
  const [B, I, H, O] = [16, 12, 32, 5];
  const params = [
    parameter(randomArray(r, I * H, -0.3, 0.3), [I, H]),
    parameter(randomArray(r, H, -0.1, 0.1), [H]),
    parameter(randomArray(r, H * O, -0.3, 0.3), [H, O]),
    parameter(randomArray(r, O, -0.1, 0.1), [O]),
  ];
  const x = Tensor.from(randomArray(r, B * I), [B, I]).keep();
  const y = Tensor.from(randomArray(r, B * O), [B, O]).keep();
  const opt = makeOpt(params);
  const live = rt().memory.inUseCount;
  // Everything alive now: the parameters, the batch, and the optimizer's own buffers.
  assert.equal(live, params.length + 2 + stateBuffers(params.length), "buffers before training");
  let allocatedAfterWarmup = 0;
  const losses: number[] = [];
  for (let step = 0; step < 40; step++) {
    const loss = trainStep(params, opt, x, y);
    losses.push(await loss.item());
    loss.dispose();
    await rt().sync();
    assert.equal(rt().memory.inUseCount, live, `buffers in use after step ${step}`);
    if (step === 2) allocatedAfterWarmup = rt().memory.allocatedBytes;
    if (step > 2) assert.equal(rt().memory.allocatedBytes, allocatedAfterWarmup, `pool bytes after step ${step}`);
  }
  // The loop really trained (so the steps did allocate and free their temporaries).
  assert.ok(losses.at(-1)! < losses[0] * 0.9, `loss ${losses[0]} -> ${losses.at(-1)}`);
  opt.dispose();
  for (const t of [...params, x, y]) t.dispose();
  assert.equal(rt().memory.inUseCount, live - params.length - 2 - stateBuffers(params.length), "buffers after dispose");
}

gpuTest("a 40-step SGD training loop keeps GPU memory flat and frees every temporary", async () => {
  // velocity per parameter, plus the [norm, scale] buffer and the norm partials.
  await checkFlat((ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, clipNorm: 5 }), (n) => n + 2, 31);
});

gpuTest("a 40-step AdamW training loop keeps GPU memory flat and frees every temporary", async () => {
  // m and v per parameter, plus the [norm, scale] buffer.
  await checkFlat((ps) => new AdamW(ps, { lr: 0.01 }), (n) => 2 * n + 1, 32);
});

gpuTest("backward() gives a parameter used through a reshape a gradient that owns its buffer", async () => {
  const r = rng(33);
  const w = parameter(randomArray(r, 6), [2, 3]);
  const c = randomArray(r, 6);
  tidy(() => backward(mean(square(sub(reshape(w, [6]), Tensor.from(c, [6]))))));
  // The graph's buffers are back in the pool: poison what the next tensors get.
  tidy(() => Tensor.from(new Float32Array(6).fill(NaN), [6]).size);
  const wv = await w.toF32();
  const want = Array.from(wv, (v, i) => (2 * (v - Math.fround(c[i]))) / 6);
  assert.deepEqual(Array.from(await w.grad!.toF32(), (v) => v.toFixed(5)), want.map((v) => v.toFixed(5)));
  w.grad!.dispose();
  w.dispose();
});

gpuTest("backward(releaseGraph) frees the graph as it goes and gives the same gradients", async () => {
  const r = rng(34);
  const params = [parameter(randomArray(r, 144, -0.3, 0.3), [12, 12]), parameter(randomArray(r, 12), [12])];
  const x = Tensor.from(randomArray(r, 96), [8, 12]).keep();
  const grads: Float32Array[][] = [];
  const inUse: number[] = [];
  for (const releaseGraph of [false, true]) {
    tidy(() => {
      let h = x;
      // A residual chain: every activation feeds two ops, so gradients are summed and shared.
      for (let i = 0; i < 6; i++) h = relu(add(matmul(h, params[0], { transB: i % 2 === 1 }), h));
      const l = mean(square(add(matmul(h, params[0]), params[1])));
      backward(l, undefined, { releaseGraph });
      inUse.push(rt().memory.inUseCount);
    });
    grads.push(await Promise.all(params.map((p) => p.grad!.toF32())));
    for (const p of params) [p.grad!.dispose(), p.grad = null];
  }
  assert.deepEqual(grads[1], grads[0]);
  assert.ok(inUse[1] < inUse[0] - 10, `buffers held after backward: ${inUse[0]} kept, ${inUse[1]} released`);
  for (const t of [...params, x]) t.dispose();
});
