import assert from "node:assert/strict";
import { assertClose, gpuTest, rng } from "../_util.ts";
import { paramsFor, randomLabels, randomLogits } from "./_cases.ts";
import { createLoss, parseLossParams } from "../../losses/registry.ts";
import { InputError } from "../../core/errors.ts";
import { rt, Tensor } from "../../tensor/tensor.ts";
import { backward, full, scale } from "../../tensor/ops.ts";

gpuTest("forward() records a backward that scales the fused gradient by the incoming gradient", async () => {
  const r = rng(1);
  const loss = createLoss("eqlv2", {}, { numClasses: 11 });
  const x = Tensor.from(randomLogits(r, 20 * 12), [20, 12]).requireGrad();
  const out = loss.forward(x, randomLabels(r, 20, 11, 0.5));
  const k = 0.5 + r.float();
  backward(scale(out.loss, k));
  const want = Array.from(await out.grad.toF32(), (g) => g * k);
  assertClose(await x.grad!.toF32(), want, { rtol: 1e-6, atol: 0 }, "logits.grad");
  loss.dispose();
});

gpuTest(
  "eqlv2 weights an unseen category's negatives by f(0) and its positives by about 5 after one step",
  async () => {
    const c = 5, loss = createLoss("eqlv2", {}, { numClasses: c });
    const r = rng(2);
    const labels = Int32Array.from([0, 1, 5, 5, 2, 0]);
    const x = Tensor.from(randomLogits(r, 6 * (c + 1)), [6, c + 1]);
    loss.forward(x, labels);
    const next = loss.forward(x, Int32Array.from([4, 5, 5, 5, 5, 5]), { weights: true });
    const w = await next.weight!.toF32();
    const f0 = 1 / (1 + Math.exp(12 * 0.8));
    assertClose([w[4], w[6 + 4], w[6 + 3]], [1 + 4 * (1 - f0), f0, f0], { rtol: 1e-5 }, "weights of categories 3, 4");
    assertClose([w[5], w[6 + 5]], [1, 1], { rtol: 0 }, "background channel");
    loss.dispose();
  },
);

gpuTest("state() and loadState() resume a loss exactly, and the all-reduce hook sums statistics first", async () => {
  const r = rng(3);
  for (const name of ["eqlv2", "efl", "seesaw", "federated", "bags"] as const) {
    const c = 13, params = paramsFor(name, c, r);
    const a = createLoss(name, params, { numClasses: c });
    const rows = 40;
    const steps = [0, 1, 2].map(() => ({
      labels: randomLabels(r, rows, c, 0.5),
      logits: randomLogits(r, rows * a.columns),
    }));
    a.forward(Tensor.from(steps[0].logits, [rows, a.columns]), steps[0].labels);
    const saved = JSON.parse(JSON.stringify(await a.state()));
    const b = createLoss(name, params, { numClasses: c });
    b.loadState(saved);
    for (const s of steps.slice(1)) {
      const x = Tensor.from(s.logits, [rows, a.columns]);
      const la = await a.forward(x, s.labels).loss.item(), lb = await b.forward(x, s.labels).loss.item();
      assert.equal(lb, la, `${name}: loss after resuming`);
    }
    assert.deepEqual(await b.state(), await a.state(), `${name}: state after resuming`);
    // Two identical workers: the hook doubles this step's sums.
    const before = await a.gradStats();
    a.allReduce = (stats) => {
      // Stands in for the sum over two identical workers, written back into the hook's tensor.
      const doubled = scale(stats, 2);
      rt().copy(doubled.buffer, stats.buffer, 8 * c);
      doubled.dispose();
    };
    const x = Tensor.from(steps[2].logits, [rows, a.columns]);
    a.forward(x, steps[2].labels);
    b.forward(x, steps[2].labels);
    const sa = await a.gradStats(), sb = await b.gradStats();
    const wantPos = before.pos_grad.map((p, j) => p + 2 * (sb.pos_grad[j] - before.pos_grad[j]));
    assertClose(sa.pos_grad, wantPos, { rtol: 1e-5, atol: 1e-6 }, `${name}: all-reduced pos_grad`);
    a.dispose();
    b.dispose();
  }
});

// Columns 5, 4 and 6 (bce: vec4 blocks of 4, 1 and 2 rows; 6 rows leave a tail for the
// one-column kernel), ce: 5 and 4, seesaw: 5 and 4. The bad elements and the bad label sit in
// row 2, inside a block.
for (
  const [name, c] of [["bce", 4], ["bce", 3], ["bce", 5], ["ce", 4], ["ce", 3], ["seesaw", 3], ["seesaw", 2]] as const
) {
  gpuTest(
    `${name}: a NaN logit and an out-of-range label on the GPU fail check() naming the element (${c} categories)`,
    async () => {
      const loss = createLoss(name, name === "bce" && c === 5 ? { background_channel: true } : {}, { numClasses: c });
      const cols = loss.columns;
      const data = Array.from({ length: 6 * cols }, (_, i) => i / 7 - 1 || 0.1);
      // Two bad elements in one row (one vec4 of the 4-column kernels): the first is named.
      data[2 * cols + 1] = Infinity;
      data[2 * cols + 3] = NaN;
      loss.forward(Tensor.from(data, [6, cols]), Int32Array.from([0, c, 1, 1, 0, c]));
      await assert.rejects(
        () => loss.check(),
        (e: Error) => e instanceof InputError && /"logits\[2\]\[1\]"/.test(e.message),
      );
      await loss.check();
      const clean = data.map((v) => Number.isFinite(v) ? v : 1);
      // c + 1 is the first label past the background's.
      loss.forward(Tensor.from(clean, [6, cols]), Tensor.from([0, 1, c + 1, 1, 0, c], [6], "i32"));
      await assert.rejects(() => loss.state(), (e: Error) => /"labels\[2\]"/.test(e.message));
      loss.dispose();
    },
  );
}

gpuTest("bad shapes, labels and parameters are refused with the offending value", () => {
  const loss = createLoss("eqlv2", {}, { numClasses: 4 });
  const x = full([3, 5], 0.5);
  assert.throws(
    () => loss.forward(full([3, 4], 0.5), Int32Array.from([0, 1, 2])),
    /expected f32 \[N, 5\], got f32 \[3, 4\]/,
  );
  assert.throws(() => loss.forward(x, Int32Array.from([0, 1])), /expected 3 labels/);
  assert.throws(() => loss.forward(x, Int32Array.from([0, 5, 1])), /"labels\[1\]".*got 5/);
  assert.throws(() => loss.forward(x, Int32Array.from([0, 1, 1]), { avgFactor: 0 }), /"avgFactor"/);
  assert.throws(() => parseLossParams("focal", { gamma: -1 }), /"gamma" .*got -1/);
  assert.throws(() => parseLossParams("eql", { lambda: 1.5 }), /"lambda" .*got 1.5/);
  assert.throws(() => parseLossParams("eqlv2", { gama: 1 }), /"gama"/);
  assert.throws(() => createLoss("eql", { lambda: 0.01 }, { numClasses: 4 }), /"frequencies" or "image_counts"/);
  assert.throws(() => createLoss("softmaxx", {}, { numClasses: 4 }), /Unknown loss "softmaxx"/);
  loss.dispose();
});
