import assert from "node:assert/strict";
import { assertClose, gpuTest, rng } from "../_util.ts";
import { paramsFor, randomLabels, randomLogits } from "./_cases.ts";
import { createLoss } from "../../losses/registry.ts";
import { createReferenceLoss } from "../../losses/reference_loss.ts";
import type { LossStats64 } from "../../losses/reference_sigmoid.ts";
import { type LossName, lossNames } from "../../losses/registry.ts";
import { Tensor } from "../../tensor/tensor.ts";

// f32 kernel vs f64 reference: per-element values to 2e-5 relative, plus an absolute floor
// of 1e-6 of the element scale for gradients that cancel to ~0; sums over many rows to 1e-4.
const ELEM = 2e-5, SUM = 1e-4;

/** A category count near `c` whose column count is (`wide`) or is not a multiple of 4: the vec4 and scalar kernels. */
function categoriesFor(name: LossName, c: number, wide: boolean): number {
  for (let n = c;; n++) {
    const probe = createLoss(name, paramsFor(name, n, rng(0)), { numClasses: n });
    const columns = probe.columns;
    probe.dispose();
    if ((columns % 4 === 0) === wide) return n;
  }
}

for (const [k, name] of lossNames.entries()) {
  for (const wide of [false, true]) {
    gpuTest(
      `${name} kernel matches the float64 reference over three steps (${
        wide ? "columns a multiple of 4" : "columns not a multiple of 4"
      }, saturated logits)`,
      async () => {
        const r = rng(100 + k + (wide ? 50 : 0));
        const c = categoriesFor(name, 41, wide), params = paramsFor(name, c, r);
        const gpu = createLoss(name, params, { numClasses: c });
        const ref = createReferenceLoss(name, params, { numClasses: c });
        try {
          // Step 2 is all background; 70 rows span three row chunks.
          for (const [s, bg] of [0.6, 1, 0.3].entries()) {
            const rows = 70;
            const labels = randomLabels(r, rows, c, bg);
            const logits = randomLogits(r, rows * gpu.columns);
            const avgFactor = name === "focal" || name === "efl" ? 5 + r.int(20) : undefined;
            const want = ref.step({ logits, labels, avgFactor });
            const x = Tensor.from(logits, [rows, gpu.columns]);
            const out = gpu.forward(x, labels, { weights: true, avgFactor });
            const scale = Math.max(...want.grad.map(Math.abs));
            assertClose([await out.loss.item()], [want.loss], { rtol: SUM, atol: 0 }, `${name} step ${s} loss`);
            assertClose(
              await out.grad.toF32(),
              want.grad,
              { rtol: ELEM, atol: 1e-6 * scale },
              `${name} step ${s} grad`,
            );
            assertClose(await out.weight!.toF32(), want.weight, { rtol: ELEM, atol: 1e-7 }, `${name} step ${s} weight`);
            const st = await gpu.gradStats();
            assertClose(st.pos_grad, ref.state.pos_grad, { rtol: SUM, atol: 1e-5 }, `${name} step ${s} pos_grad`);
            assertClose(st.neg_grad, ref.state.neg_grad, { rtol: SUM, atol: 1e-5 }, `${name} step ${s} neg_grad`);
            assertClose(await gpu.scores(x).toF32(), ref.scores(logits), { rtol: ELEM, atol: 1e-7 }, `${name} scores`);
            for (const t of [x, out.loss, out.grad, out.weight!]) t.dispose();
          }
        } finally {
          gpu.dispose();
        }
      },
    );
  }
}

// The fused passes walk blocks of 1, 2 or 4 rows with vec4s (columns = 0, 2, odd mod 4) and a
// one-column pass takes the 0-3 rows after the last whole block; 34 rows span two chunks of 32.
const BLOCK_CASES = [
  ["focal", 5],
  ["focal", 6],
  ["eqlv2", 6],
  ["eqlv2", 7],
  ["focal", 8],
  ["ce", 5],
  ["ce", 6],
  ["seesaw", 4],
  ["seesaw", 5],
] as const;
gpuTest(
  "fused loss passes over blocks of rows: every column count mod 4 with rows before, inside and after a block",
  async () => {
    const r = rng(57);
    for (const [name, c] of BLOCK_CASES) {
      for (const rows of [1, 2, 3, 5, 34]) {
        const params = paramsFor(name, c, r);
        const gpu = createLoss(name, params, { numClasses: c });
        const ref = createReferenceLoss(name, params, { numClasses: c });
        const what = `${name} ${gpu.columns} columns, ${rows} rows`;
        for (const bg of [0.3, 0.6]) {
          const labels = randomLabels(r, rows, c, bg);
          const logits = randomLogits(r, rows * gpu.columns);
          // Seesaw averages over its rows whatever the caller says.
          const avgFactor = name === "seesaw" ? undefined : 3;
          const want = ref.step({ logits, labels, avgFactor });
          const out = gpu.forward(Tensor.from(logits, [rows, gpu.columns]), labels, { weights: true, avgFactor });
          const scale = Math.max(...want.grad.map(Math.abs));
          // One confident row has gradients of 1e-9 and below: the floor of 1e-12 is the float64
          // reference's own cancellation (p - 1 near p = 1), not the kernel's, which has none.
          assertClose(await out.grad.toF32(), want.grad, { rtol: ELEM, atol: 1e-6 * scale + 1e-12 }, `${what} grad`);
          assertClose(await out.weight!.toF32(), want.weight, { rtol: ELEM, atol: 1e-7 }, `${what} weight`);
          assertClose([await out.loss.item()], [want.loss], { rtol: SUM, atol: 1e-12 }, `${what} loss`);
          const st = await gpu.gradStats();
          assertClose(st.pos_grad, ref.state.pos_grad, { rtol: SUM, atol: 1e-5 }, `${what} pos_grad`);
          assertClose(st.neg_grad, ref.state.neg_grad, { rtol: SUM, atol: 1e-5 }, `${what} neg_grad`);
        }
        gpu.dispose();
      }
    }
  },
);

// A confident row (label logit 20 above the rest: p_label = 1 - ~1e-8) keeps its gradient at the label
// and its loss to float32 relative accuracy, and a row whose label logit is 100 below the rest has a
// finite loss of ~100, for ce and for Seesaw's classes and objectness.
gpuTest("softmax losses keep confident rows' tiny gradients and losses, and hopeless rows' large ones", async () => {
  const r = rng(91);
  for (const name of ["ce", "seesaw"] as const) {
    const c = 6, params = { loss_weight: 1 };
    const gpu = createLoss(name, params, { numClasses: c });
    const ref = createReferenceLoss(name, params, { numClasses: c });
    const cols = gpu.columns;
    const logits = new Float64Array(3 * cols).map(() => r.uniform(-1, 1));
    const labels = Int32Array.from([2, 4, 1]);
    logits[2] += 20; // row 0: confident
    logits[cols + 4] -= 100; // row 1: hopeless
    logits[2 * cols + 1] += 20; // row 2: confident, and for Seesaw a confident object
    if (name === "seesaw") logits[2 * cols + c] += 15;
    const f32 = Float64Array.from(logits, Math.fround);
    const want = ref.step({ logits: f32, labels });
    const out = gpu.forward(Tensor.from(f32, [3, cols]), labels, { weights: true });
    const grad = await out.grad.toF32();
    for (const k of [2, 2 * cols + 1, ...(name === "seesaw" ? [2 * cols + c, 2 * cols + c + 1] : [])]) {
      assertClose([grad[k]], [want.grad[k]], { rtol: 1e-4, atol: 0 }, `${name} grad[${k}]`);
    }
    assertClose([grad[cols + 4]], [want.grad[cols + 4]], { rtol: ELEM, atol: 0 }, `${name} hopeless row's grad`);
    const loss = await out.loss.item();
    assert.ok(Number.isFinite(loss) && loss > 25, `${name} loss ${loss}`);
    assertClose([loss], [want.loss], { rtol: 1e-5, atol: 0 }, `${name} loss`);
    gpu.dispose();
  }
});

// Logits of +-100 underflow exp() in float32, so the modulating factor's base (1 - p_t) is exactly 0
// for half of them: 0^gamma must be 0 for gamma > 0 and 1 for gamma = 0, as in float64.
for (const gamma of [0, 2]) {
  gpuTest(`focal kernel with gamma ${gamma} matches the float64 reference at logits of +-100`, async () => {
    const r = rng(31 + gamma);
    for (const c of [7, 8]) {
      const params = { loss_weight: 1, gamma, alpha: 0.3 };
      const gpu = createLoss("focal", params, { numClasses: c });
      const ref = createReferenceLoss("focal", params, { numClasses: c });
      const rows = 9;
      const labels = randomLabels(r, rows, c, 0.4);
      const logits = randomLogits(r, rows * c).map((v, i) => i % 3 === 0 ? (v < 0 ? -100 : 100) : v);
      const want = ref.step({ logits, labels, avgFactor: 4 });
      const out = gpu.forward(Tensor.from(logits, [rows, c]), labels, { weights: true, avgFactor: 4 });
      const scale = Math.max(...want.grad.map(Math.abs));
      assertClose(await out.grad.toF32(), want.grad, { rtol: ELEM, atol: 1e-6 * scale }, `c=${c} grad`);
      assertClose(await out.weight!.toF32(), want.weight, { rtol: ELEM, atol: 1e-7 }, `c=${c} weight`);
      assertClose([await out.loss.item()], [want.loss], { rtol: SUM, atol: 0 }, `c=${c} loss`);
      gpu.dispose();
    }
  });
}

gpuTest("every loss reports gradient statistics that grow with each step, including plain bce", async () => {
  const r = rng(7);
  for (const name of ["bce", "ce", "focal", "eql"] as LossName[]) {
    const c = 9;
    const gpu = createLoss(name, paramsFor(name, c, r), { numClasses: c });
    const labels = Int32Array.from({ length: 12 }, (_, i) => i % (c + 1));
    // Moderate logits: a saturated one makes a category's gradient exactly 0 in float32.
    const x = Tensor.from(Float64Array.from({ length: 12 * gpu.columns }, () => r.uniform(-3, 3) || 0.5), [
      12,
      gpu.columns,
    ]);
    gpu.forward(x, labels);
    const first = await gpu.gradStats();
    gpu.forward(x, labels);
    const second = await gpu.gradStats();
    for (let j = 0; j < c; j++) {
      if (!(first.pos_grad[j] > 0 && first.neg_grad[j] > 0)) {
        throw new Error(`${name}: category ${j} has no statistics`);
      }
      assertClose([second.pos_grad[j], second.neg_grad[j]], [2 * first.pos_grad[j], 2 * first.neg_grad[j]], {
        rtol: 1e-5,
      });
    }
    x.dispose();
    gpu.dispose();
  }
});

gpuTest(
  "eqlv2 and bce kernels match the float64 reference at LVIS v1 width (1203 categories + background)",
  async () => {
    const r = rng(900);
    const c = 1203, rows = 40;
    for (const name of ["eqlv2", "bce"] as LossName[]) {
      const gpu = createLoss(name, {}, { numClasses: c });
      const ref = createReferenceLoss(name, {}, { numClasses: c });
      for (let s = 0; s < 2; s++) {
        const labels = randomLabels(r, rows, c, 0.5);
        const logits = randomLogits(r, rows * gpu.columns);
        const want = ref.step({ logits, labels });
        const out = gpu.forward(Tensor.from(logits, [rows, gpu.columns]), labels);
        const scale = Math.max(...want.grad.map(Math.abs));
        assertClose([await out.loss.item()], [want.loss], { rtol: SUM, atol: 0 }, `${name} step ${s} loss`);
        assertClose(await out.grad.toF32(), want.grad, { rtol: ELEM, atol: 1e-6 * scale }, `${name} step ${s} grad`);
        const st = await gpu.state();
        assertClose(st.ratio, (ref.state as LossStats64).ratio, { rtol: SUM, atol: 1e-6 }, `${name} step ${s} ratio`);
      }
      gpu.dispose();
    }
  },
);
