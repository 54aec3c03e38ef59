/**
 * Every loss without an official fixture in ../shared (bce, ce, focal, seesaw, federated,
 * efl) against outputs of an outside implementation: torch and torchvision, mmdetection's
 * Seesaw, Detic's federated loss and the EFL authors' code, each run unmodified by the
 * generator beside its fixtures (tests/losses/fixtures/<loss>/gen.py, provenance in each
 * file's "source"). Both the float64 reference and the GPU kernel, through the public entry
 * points, for every step with the state carried.
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest } from "../_util.ts";
import { createLoss, createReferenceLoss, type LossName } from "../../losses/mod.ts";
import { Tensor } from "../../tensor/tensor.ts";

interface OutsideStep {
  logits: number[][];
  labels: number[];
  avg_factor?: number;
  loss: number;
  grad: number[][];
  scores?: number[][];
  column_mask?: number[];
  state_after?: { cum_samples?: number[]; pos_grad?: number[]; neg_grad?: number[]; ratio?: number[] };
}

interface OutsideFixture {
  source: Record<string, unknown>;
  loss: LossName;
  num_classes: number;
  columns: number;
  params: Record<string, unknown>;
  steps: OutsideStep[];
}

const DIR = new URL("./fixtures/", import.meta.url);
const fixtures: [string, OutsideFixture][] = [];
for (const loss of ["bce", "ce", "focal", "seesaw", "federated", "efl"]) {
  const names = [...Deno.readDirSync(new URL(`${loss}/`, DIR))].map((e) => e.name).filter((n) => n.endsWith(".json"));
  for (const name of names.sort()) {
    fixtures.push([`${loss}/${name}`, JSON.parse(Deno.readTextFileSync(new URL(`${loss}/${name}`, DIR)))]);
  }
}

// Both sides float64 on the same float32-exact inputs: only the order of operations differs
// (Seesaw's offsets log(M C) added to logits then softmaxed: 2e-14 relative measured).
const F64 = { rtol: 1e-12, atol: 1e-16 };
// The kernels in float32 against the float64 truth: ~1e-7 relative per element, sums over a
// step's rows and EFL's focusing exponents up to 10 (an error of gamma * 6e-8) bring it to 1e-5.
const F32 = { rtol: 2e-5, atol: 1e-7 };

Deno.test("every loss without an official fixture in ../shared has outside fixtures here", () => {
  const seen = new Set(fixtures.map(([, fx]) => fx.loss));
  assert.deepEqual([...seen].sort(), ["bce", "ce", "efl", "federated", "focal", "seesaw"]);
  for (const [file, fx] of fixtures) {
    assert.ok(fx.steps.length >= 2, `${file}: at least two steps`);
    assert.ok(typeof fx.source.generator === "string", `${file}: names its generator`);
  }
});

for (const [file, fx] of fixtures) {
  const steps = `${fx.steps.length} steps`;
  Deno.test(`${fx.loss} float64 reference matches the outside fixture ${file} over ${steps}`, () => {
    const ref = createReferenceLoss(fx.loss, fx.params, { numClasses: fx.num_classes });
    assert.equal(ref.columns, fx.columns);
    const weights: number[] = [];
    for (const [s, st] of fx.steps.entries()) {
      const logits = st.logits.flat();
      const out = ref.step({ logits, labels: st.labels, avgFactor: st.avg_factor });
      weights.push(...out.weight);
      assertClose([out.loss], [st.loss], F64, `${file} step ${s} loss`);
      assertClose(out.grad, st.grad.flat(), F64, `${file} step ${s} grad`);
      if (st.column_mask) {
        // The categories whose negatives count: the fixture's draw, on every row, never the background column.
        const want = st.labels.flatMap(() => [...st.column_mask!, 0]);
        assertClose(out.weight, want, { rtol: 0, atol: 0 }, `${file} step ${s} counted categories`);
      }
      if (st.scores) assertClose(ref.scores(logits), st.scores.flat(), F64, `${file} step ${s} scores`);
      const state = ref.state as unknown as Record<string, Float64Array>;
      for (const [key, want] of Object.entries(st.state_after ?? {})) {
        assertClose(state[key], want, F64, `${file} step ${s} ${key} after`);
      }
    }
    // The fixture exercises what makes the loss differ from its base: Seesaw's mitigation (< 1) and
    // compensation (> 1) factors, EFL's focusing exponents above gamma_b (weights off the focal ones).
    if (fx.loss === "seesaw") assert.ok(weights.some((w) => w < 1) && weights.some((w) => w > 1), file);
    if (fx.loss === "efl") {
      assert.ok(fx.steps.slice(0, -1).some((st) => st.state_after!.ratio!.some((g) => g < 0.5)), file);
    }
  });

  gpuTest(`${fx.loss} GPU kernel matches the outside fixture ${file} over ${steps}`, async () => {
    const loss = createLoss(fx.loss, fx.params, { numClasses: fx.num_classes });
    try {
      assert.equal(loss.columns, fx.columns);
      for (const [s, st] of fx.steps.entries()) {
        const logits = Tensor.from(st.logits.flat(), [st.labels.length, fx.columns]);
        const out = loss.forward(logits, Int32Array.from(st.labels), { avgFactor: st.avg_factor, weights: true });
        const grad = st.grad.flat(), scale = Math.max(...grad.map(Math.abs));
        assertClose([await out.loss.item()], [st.loss], F32, `${file} step ${s} loss`);
        assertClose(await out.grad.toF32(), grad, { ...F32, atol: 1e-6 * scale }, `${file} step ${s} grad`);
        if (st.column_mask) {
          const want = st.labels.flatMap(() => [...st.column_mask!, 0]);
          assertClose(await out.weight!.toF32(), want, { rtol: 0, atol: 0 }, `${file} step ${s} counted categories`);
        }
        if (st.scores) {
          assertClose(await loss.scores(logits).toF32(), st.scores.flat(), F32, `${file} step ${s} scores`);
        }
        const state = await loss.state() as unknown as Record<string, number[]>;
        for (const [key, want] of Object.entries(st.state_after ?? {})) {
          assertClose(state[key], want, { rtol: 1e-4, atol: 1e-6 }, `${file} step ${s} ${key} after`);
        }
        for (const t of [logits, out.loss, out.grad, out.weight!]) t.dispose();
      }
    } finally {
      loss.dispose();
    }
  });
}
