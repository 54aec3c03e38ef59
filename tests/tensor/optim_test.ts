import assert from "node:assert/strict";
import { assertClose, gpuTest, randomArray, read64, rng } from "../_util.ts";
import { guardedOutput } from "../_canary.ts";
import { rt, Tensor } from "../../tensor/tensor.ts";
import { sumSquaresKernel, sumSquaresParts, sumSquaresUniform } from "../../kernels/optim.ts";
import { AdamW, type Optimizer, parameter, SGD } from "../../tensor/optim.ts";

const SHAPES = [[3, 5], [7], [2, 3, 4]];

interface Ref {
  step(ps: Float64Array[], gs: Float64Array[], lr: number): void;
}

/** Global-norm clip factor of torch.nn.utils.clip_grad_norm_, in float64. */
function clipFactor(gs: Float64Array[], maxNorm: number | undefined): number {
  if (maxNorm === undefined) return 1;
  let s = 0;
  for (const g of gs) for (const x of g) s += x * x;
  return Math.min(1, maxNorm / (Math.sqrt(s) + 1e-6));
}

/** Per-parameter weight decay and learning-rate factor, by parameter index. */
type Per = Record<number, { weightDecay?: number; lrScale?: number }>;

function sgdRef(
  o: { momentum: number; weightDecay: number; nesterov: boolean; clipNorm?: number },
  per: Per = {},
): Ref {
  const vel: Float64Array[] = [];
  return {
    step(ps, gs, lr0) {
      const c = clipFactor(gs, o.clipNorm);
      ps.forEach((p, k) => {
        vel[k] ??= new Float64Array(p.length);
        const wd = per[k]?.weightDecay ?? o.weightDecay, lr = lr0 * (per[k]?.lrScale ?? 1);
        for (let i = 0; i < p.length; i++) {
          let d = gs[k][i] * c + wd * p[i];
          if (o.momentum > 0) {
            vel[k][i] = o.momentum * vel[k][i] + d;
            d = o.nesterov ? d + o.momentum * vel[k][i] : vel[k][i];
          }
          p[i] -= lr * d;
        }
      });
    },
  };
}

function adamwRef(
  o: { beta1: number; beta2: number; eps: number; weightDecay: number; clipNorm?: number },
  per: Per = {},
): Ref {
  const m: Float64Array[] = [], v: Float64Array[] = [];
  let t = 0;
  return {
    step(ps, gs, lr0) {
      t++;
      const c = clipFactor(gs, o.clipNorm);
      ps.forEach((p, k) => {
        m[k] ??= new Float64Array(p.length);
        v[k] ??= new Float64Array(p.length);
        const wd = per[k]?.weightDecay ?? o.weightDecay, lr = lr0 * (per[k]?.lrScale ?? 1);
        for (let i = 0; i < p.length; i++) {
          const g = gs[k][i] * c;
          p[i] *= 1 - lr * wd;
          m[k][i] = o.beta1 * m[k][i] + (1 - o.beta1) * g;
          v[k][i] = o.beta2 * v[k][i] + (1 - o.beta2) * g * g;
          const mh = m[k][i] / (1 - o.beta1 ** t), vh = v[k][i] / (1 - o.beta2 ** t);
          p[i] -= lr * mh / (Math.sqrt(vh) + o.eps);
        }
      });
    },
  };
}

/** Run `steps` steps with fresh random gradients and a changing learning rate on GPU and in float64. */
async function compare(
  salt: number,
  make: (params: Tensor[]) => Optimizer,
  ref: Ref,
  o: { steps: number; gradScale?: number; rtol: number; atol: number },
): Promise<void> {
  const r = rng(salt);
  const host = SHAPES.map((s) => randomArray(r, s.reduce((a, b) => a * b, 1)));
  const params = host.map((h, k) => parameter(h, SHAPES[k]));
  const opt = make(params);
  for (let s = 0; s < o.steps; s++) {
    const lr = 0.05 * (1 + s) / o.steps;
    const gs = host.map((h) => randomArray(r, h.length, -(o.gradScale ?? 1), o.gradScale ?? 1));
    params.forEach((p, k) => p.grad = Tensor.from(gs[k], p.shape).keep());
    opt.step(lr);
    opt.zeroGrad();
    ref.step(host, gs, lr);
  }
  for (let k = 0; k < params.length; k++) {
    assertClose(await read64(params[k]), host[k], { rtol: o.rtol, atol: o.atol }, `param ${k} after ${o.steps} steps`);
  }
  opt.dispose();
  for (const p of params) p.dispose();
}

// f32 updates of O(0.05) on O(1) values over 6 steps: rounding stays below ~1e-6 absolute.
const TOL = { rtol: 1e-5, atol: 3e-6 };

gpuTest("SGD with momentum, weight decay and per-step learning rates matches float64", async () => {
  const o = { momentum: 0.9, weightDecay: 0.01, nesterov: false };
  await compare(11, (ps) => new SGD(ps, { lr: 0.1, ...o }), sgdRef(o), { steps: 6, ...TOL });
});

gpuTest("SGD with Nesterov momentum and without momentum matches float64", async () => {
  const o = { momentum: 0.8, weightDecay: 0.001, nesterov: true };
  await compare(12, (ps) => new SGD(ps, { lr: 0.1, ...o }), sgdRef(o), { steps: 5, ...TOL });
  const plain = { momentum: 0, weightDecay: 0.05, nesterov: false };
  await compare(13, (ps) => new SGD(ps, { lr: 0.1, ...plain }), sgdRef(plain), { steps: 4, ...TOL });
});

gpuTest("AdamW with decoupled weight decay and bias correction matches float64", async () => {
  const o = { beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.05 };
  // Adam's normalised step is ~lr per element regardless of gradient size.
  await compare(14, (ps) => new AdamW(ps, { lr: 0.1, ...o }), adamwRef(o), { steps: 6, rtol: 1e-5, atol: 2e-5 });
});

gpuTest("gradient clipping by global norm scales gradients exactly as clip_grad_norm_ does", async () => {
  // Gradients of size ~3 per element over 41 elements: norm ~11, well above 1.5, so every step clips.
  const s = { momentum: 0.9, weightDecay: 0, nesterov: false, clipNorm: 1.5 };
  await compare(15, (ps) => new SGD(ps, { lr: 0.1, ...s }), sgdRef(s), { steps: 4, gradScale: 3, ...TOL });
  const a = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0.5 };
  await compare(16, (ps) => new AdamW(ps, { lr: 0.1, ...a }), adamwRef(a), {
    steps: 4,
    gradScale: 3,
    rtol: 1e-5,
    atol: 2e-5,
  });
});

gpuTest("per-parameter weight decay and learning-rate factors apply to their parameter only", async () => {
  const per: Per = { 0: { weightDecay: 0 }, 2: { lrScale: 2, weightDecay: 0.1 } };
  const overrides = (ps: Tensor[]) => new Map(Object.entries(per).map(([k, o]) => [ps[Number(k)], o]));
  const s = { momentum: 0.9, weightDecay: 0.02, nesterov: false };
  await compare(19, (ps) => new SGD(ps, { lr: 0.1, ...s, overrides: overrides(ps) }), sgdRef(s, per), {
    steps: 4,
    ...TOL,
  });
  const a = { beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.05 };
  await compare(20, (ps) => new AdamW(ps, { lr: 0.1, ...a, overrides: overrides(ps) }), adamwRef(a, per), {
    steps: 4,
    rtol: 1e-5,
    atol: 2e-5,
  });
});

gpuTest("gradNorm() reports the global norm of the last step's gradients", async () => {
  const r = rng(17);
  const gs = SHAPES.map((s) => randomArray(r, s.reduce((a, b) => a * b, 1), -2, 2));
  const params = gs.map((g, k) => parameter(randomArray(r, g.length), SHAPES[k]));
  const opt = new SGD(params, { lr: 0.01, clipNorm: 1 });
  params.forEach((p, k) => p.grad = Tensor.from(gs[k], p.shape).keep());
  opt.step();
  const want = Math.sqrt(gs.reduce((a, g) => a + g.reduce((b, x) => b + x * x, 0), 0));
  assertClose([await opt.gradNorm()], [want], { rtol: 1e-5 }, "global norm");
  opt.zeroGrad();
  opt.dispose();
  for (const p of params) p.dispose();
});

gpuTest("exported AdamW state resumes training exactly where it stopped", async () => {
  const r = rng(18);
  const init = SHAPES.map((s) => randomArray(r, s.reduce((a, b) => a * b, 1)));
  const grads = Array.from({ length: 4 }, () => init.map((h) => randomArray(r, h.length)));
  const run = (params: Tensor[], opt: AdamW, from: number, to: number) => {
    for (let s = from; s < to; s++) {
      params.forEach((p, k) => p.grad = Tensor.from(grads[s][k], p.shape).keep());
      opt.step(0.05 * (s + 1));
      opt.zeroGrad();
    }
  };
  const a = init.map((h, k) => parameter(h, SHAPES[k]));
  const optA = new AdamW(a, { lr: 0.1 });
  run(a, optA, 0, 4);
  const b = init.map((h, k) => parameter(h, SHAPES[k]));
  const optB = new AdamW(b, { lr: 0.1 });
  run(b, optB, 0, 2);
  const state = await optB.exportState();
  assert.equal(state.step, 2);
  assert.deepEqual(Object.keys(state.slots).sort(), ["m", "v"]);
  const c = await Promise.all(b.map(async (p) => parameter(await p.toF32(), p.shape)));
  const optC = new AdamW(c, { lr: 0.1 });
  optC.importState(state);
  run(c, optC, 2, 4);
  for (let k = 0; k < a.length; k++) assert.deepEqual(await c[k].toF32(), await a[k].toF32(), `param ${k}`);
  assert.throws(
    () => optC.importState({ ...state, slots: { m: state.slots.m.slice(1), v: state.slots.v } }),
    /slots\.m/,
  );
  for (const o of [optA, optB, optC]) o.dispose();
  for (const p of [...a, ...b, ...c]) p.dispose();
});

gpuTest(
  "sumSquaresKernel writes its partial sums at their offset and nowhere else (guards before and after)",
  async () => {
    const r = rng(48), rtm = rt();
    for (const n of [1, 255, 1000, 4099]) {
      const x = randomArray(r, n), parts = sumSquaresParts(n), before = 5 + r.int(20);
      const out = guardedOutput(rtm, { before, data: new Float32Array(parts).fill(NaN), after: 64 });
      const xb = rtm.upload(Float32Array.from(x));
      rtm.dispatch(sumSquaresKernel, { parts }, [xb, out.buffer], sumSquaresUniform(n, parts, before));
      await out.check();
      const want = new Float64Array(parts);
      x.forEach((v, j) => want[j % parts] += Math.fround(v) ** 2);
      // f32 sums of <= n / parts squares of size <= 1.
      assertClose(await rtm.readF32(out.buffer, parts, before), want, { rtol: 1e-5, atol: 1e-6 }, `n ${n}`);
      rtm.release(xb);
      rtm.release(out.buffer);
    }
  },
);
