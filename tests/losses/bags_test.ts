/**
 * BAGS against the authors' code (fixtures/bags/, made by gen.py beside them from
 * FishYuLi/BalancedGroupSoftmax): the groups, the float64 reference and the GPU loss with the
 * authors' sampled rows replayed; a hand-checked case; the "others" sampler's counts and
 * uniformity; checkpointed sampling; bad input.
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest, rng, SEED } from "../_util.ts";
import { randomLabels, randomLogits } from "./_cases.ts";
import { bagsGroups, bagsMasks, bagsRule, bagsScores64, bagsStep64 } from "../../losses/bags.ts";
import { createLoss, parseLossParams } from "../../losses/registry.ts";
import { createReferenceLoss } from "../../losses/reference_loss.ts";
import { SoftmaxLoss } from "../../losses/softmax_loss.ts";
import { Rng } from "../../core/rng.ts";
import { InputError } from "../../core/errors.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { trainParams } from "../../tasks/train.ts";

interface BagsFixture {
  source: Record<string, unknown>;
  num_classes: number;
  instance_counts: number[];
  others_sample_ratio: number;
  label2binlabel: number[][];
  pred_slice: [number, number][];
  steps: {
    logits: number[][];
    labels: number[];
    loss: number;
    bin_weights: number[][];
    grad: number[][];
    scores: number[][];
  }[];
}

const DIR = new URL("./fixtures/bags/", import.meta.url);
const fixtures = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".json")).sort()
  .map((n) => [n, JSON.parse(Deno.readTextFileSync(new URL(n, DIR))) as BagsFixture] as const);

/**
 * The authors' layout in tailor's: each of their columns' tailor column (-1 for an empty bin's
 * lone "others"), their bins' tailor groups, and their labels (0 = background, 1..C) in [0, C].
 */
function mapping(fx: BagsFixture) {
  const c = fx.num_classes, g = bagsGroups(fx.instance_counts, [10, 100, 1000]);
  const bins = fx.pred_slice.length;
  const column: number[] = [], groupOfBin: number[] = [];
  for (let b = 0; b < bins; b++) {
    const [start, length] = fx.pred_slice[b];
    const cats = Array.from({ length: c }, (_, j) => j).filter((j) => fx.label2binlabel[b][j + 1] > 0);
    // Bin b's group in tailor: the group of its categories (0 for the background bin; -1 when empty).
    const k = b === 0 ? 0 : cats.length ? g.groupOf[cats[0]] : -1;
    groupOfBin.push(k);
    for (let q = 0; q < length; q++) {
      const cat = cats.find((j) => fx.label2binlabel[b][j + 1] === q);
      column[start + q] = b === 0 ? (q === 0 ? c : c + 1) : k < 0 ? -1 : q === 0 ? c + 1 + k : cat!;
    }
  }
  const label = (l: number) => (l === 0 ? c : l - 1);
  return { g, column, groupOfBin, label };
}

function toTailor(fx: BagsFixture, step: BagsFixture["steps"][number]) {
  const { g, column, groupOfBin, label } = mapping(fx);
  const rows = step.labels.length, cols = g.columns, ng = g.groups + 1;
  const logits = new Float64Array(rows * cols), grad = new Float64Array(rows * cols);
  const masks = new Float64Array(rows * ng);
  for (let i = 0; i < rows; i++) {
    step.logits[i].forEach((v, q) => column[q] >= 0 && (logits[i * cols + column[q]] = v));
    step.grad[i].forEach((v, q) => column[q] >= 0 ? (grad[i * cols + column[q]] = v) : assert.equal(v, 0));
    step.bin_weights.forEach((w, b) => groupOfBin[b] >= 0 && (masks[i * ng + groupOfBin[b]] = w[i]));
  }
  // Their scores: column 0 the background, column l category l; tailor's: categories, then the background.
  const scores = step.scores.flatMap((s) => [...s.slice(1), s[0]]);
  return { g, logits, grad, masks, labels: Int32Array.from(step.labels, label), scores };
}

Deno.test("bagsGroups() forms the authors' groups from instance counts, an empty bin left out", () => {
  assert.equal(fixtures.length, 3);
  for (const [file, fx] of fixtures) {
    const { g, column } = mapping(fx);
    const used = fx.pred_slice.filter(([, n]) => n > 1).length - 1;
    assert.equal(g.groups, used, `${file}: foreground groups`);
    // Every tailor column is one of theirs exactly once.
    assert.deepEqual(column.filter((j) => j >= 0).sort((a, b) => a - b), [...Array(g.columns).keys()], file);
    assert.equal(typeof fx.source.generator, "string");
  }
  const g = bagsGroups([3, 250, 12, 4000, 9, 10], [10, 100, 1000]);
  assert.deepEqual(Array.from(g.groupOf), [1, 3, 2, 4, 1, 2, 0, 0, 1, 2, 3, 4]);
  assert.deepEqual(g.ranges, [[0, 10], [10, 100], [100, 1000], [1000, Infinity]]);
});

// Both float64 on the same inputs: only the order of additions differs.
const F64 = { rtol: 1e-12, atol: 1e-15 };
// float32 kernels against float64: ~1e-7 per element; sums over rows and groups to 1e-5.
const F32 = { rtol: 2e-5, atol: 1e-7 };

for (const [file, fx] of fixtures) {
  Deno.test(`bags float64 reference equals the authors' loss, gradient and scores (${file})`, () => {
    for (const [s, step] of fx.steps.entries()) {
      const t = toTailor(fx, step);
      const out = bagsStep64(t.g, { logits: t.logits, labels: t.labels }, t.masks, 1);
      assertClose([out.loss], [step.loss], F64, `${file} step ${s} loss`);
      assertClose(out.grad, t.grad, F64, `${file} step ${s} grad`);
      // Each element's weight is its row's mask in the element's group.
      const ng = t.g.groups + 1, cols = t.g.columns;
      const weights = Array.from(out.weight, (_, k) => t.masks[Math.floor(k / cols) * ng + t.g.groupOf[k % cols]]);
      assertClose(out.weight, weights, { rtol: 0, atol: 0 }, `${file} step ${s} weights`);
      assertClose(bagsScores64(t.g, t.logits), t.scores, F64, `${file} step ${s} scores`);
    }
  });

  gpuTest(`bags kernel matches the authors' loss, gradient and scores with their rows replayed (${file})`, async () => {
    const steps = fx.steps.map((step) => toTailor(fx, step));
    let at = 0;
    const g = steps[0].g;
    const loss = new SoftmaxLoss(bagsRule(g, { lossWeight: 1, masks: { masks: () => steps[at].masks } }));
    for (; at < steps.length; at++) {
      const t = steps[at], rows = t.labels.length;
      const x = Tensor.from(Float64Array.from(t.logits, Math.fround), [rows, g.columns]);
      const out = loss.forward(x, t.labels, { weights: true });
      assertClose([await out.loss.item()], [fx.steps[at].loss], { rtol: 1e-5, atol: 0 }, `${file} step ${at} loss`);
      assertClose(await out.grad.toF32(), t.grad, F32, `${file} step ${at} grad`);
      assertClose(await loss.scores(x).toF32(), t.scores, F32, `${file} step ${at} scores`);
    }
    loss.dispose();
  });
}

// Two categories in two groups, one row of category 0, all logits 0: group 0 {bg, fg} and group
// 1 {cat 0, others} each lose log 2; group 2 {cat 1, others} has no member and no loss.
const HAND = { counts: [5, 50], logits: [0, 0, 0, 0, 0, 0], label: 0 };
const HAND_GRAD = [-0.5, 0, 0.5, -0.5, 0.5, 0];

Deno.test("bags float64 reference: a hand-checked row (loss 2 log 2, scores 1/4 and bg 1/2)", () => {
  const ref = createReferenceLoss("bags", { instance_counts: HAND.counts }, { numClasses: 2 });
  const out = ref.step({ logits: HAND.logits, labels: [HAND.label] });
  assertClose([out.loss], [2 * Math.LN2], F64, "loss");
  assertClose(out.grad, HAND_GRAD, F64, "grad");
  assertClose(out.weight, [1, 0, 1, 1, 1, 0], { rtol: 0, atol: 0 }, "weights: group 2 is off");
  assertClose(ref.scores(HAND.logits), [0.25, 0.25, 0.5], F64, "scores");
});

gpuTest(`bags kernel: the hand-checked row, and 40 categories in 9 foreground groups (seed ${SEED})`, async () => {
  const hand = createLoss("bags", { instance_counts: HAND.counts }, { numClasses: 2 });
  const x = Tensor.from(HAND.logits, [1, 6]);
  const out = hand.forward(x, Int32Array.from([HAND.label]));
  assertClose([await out.loss.item()], [2 * Math.LN2], { rtol: 1e-6 }, "hand loss");
  assertClose(await out.grad.toF32(), HAND_GRAD, { rtol: 1e-6, atol: 1e-7 }, "hand grad");
  assertClose(await hand.scores(x).toF32(), [0.25, 0.25, 0.5], { rtol: 1e-6 }, "hand scores");
  hand.dispose();
  // Eight bounds, every group filled, 133 rows (a tail for the one-column kernel).
  const r = rng(44), c = 40, rows = 133;
  // The first nine counts unjittered, so no group can come out empty.
  const counts = Array.from(
    { length: c },
    (_, j) => [1, 3, 8, 20, 60, 150, 400, 900, 2500][j % 9] + (j < 9 ? 0 : r.int(2)),
  );
  const params = { instance_counts: counts, group_bounds: [2, 5, 10, 30, 100, 300, 600, 1000], seed: 3 };
  const gpu = createLoss("bags", params, { numClasses: c });
  const ref = createReferenceLoss("bags", params, { numClasses: c });
  assert.equal(gpu.columns, c + 2 + 9);
  for (let s = 0; s < 2; s++) {
    const labels = randomLabels(r, rows, c, 0.6), logits = randomLogits(r, rows * gpu.columns);
    const want = ref.step({ logits, labels });
    const got = gpu.forward(Tensor.from(logits, [rows, gpu.columns]), labels, { weights: true });
    const scale = Math.max(...want.grad.map(Math.abs));
    assertClose([await got.loss.item()], [want.loss], { rtol: 1e-4 }, `step ${s} loss`);
    assertClose(await got.grad.toF32(), want.grad, { rtol: 2e-5, atol: 1e-6 * scale }, `step ${s} grad`);
    assertClose(await got.weight!.toF32(), want.weight, { rtol: 0, atol: 0 }, `step ${s} weights`);
  }
  gpu.dispose();
});

// Two foreground groups, so C + 4 columns: every column count mod 4 (vec4 blocks of 1, 4, 2 and 4 rows),
// with rows before, inside and after a block and across two row chunks.
gpuTest("bags kernel over blocks of rows: every column count mod 4, 1 to 34 rows", async () => {
  const r = rng(45);
  for (const c of [4, 5, 6, 7]) {
    for (const rows of [1, 2, 3, 5, 34]) {
      const counts = Array.from({ length: c }, (_, j) => (j % 2 ? 3 : 300));
      const params = { instance_counts: counts, others_sample_ratio: 1.5, seed: r.int(100), loss_weight: 0.7 };
      const gpu = createLoss("bags", params, { numClasses: c });
      const ref = createReferenceLoss("bags", params, { numClasses: c });
      assert.equal(gpu.columns, c + 4);
      const labels = randomLabels(r, rows, c, 0.4), logits = randomLogits(r, rows * gpu.columns);
      const want = ref.step({ logits, labels });
      const got = gpu.forward(Tensor.from(logits, [rows, gpu.columns]), labels, { weights: true });
      const what = `${gpu.columns} columns, ${rows} rows`, scale = Math.max(...want.grad.map(Math.abs));
      assertClose(await got.grad.toF32(), want.grad, { rtol: 2e-5, atol: 1e-6 * scale + 1e-12 }, `${what} grad`);
      assertClose(await got.weight!.toF32(), want.weight, { rtol: 0, atol: 0 }, `${what} weights`);
      assertClose([await got.loss.item()], [want.loss], { rtol: 1e-4, atol: 1e-12 }, `${what} loss`);
      const st = await gpu.gradStats();
      assertClose(st.pos_grad, ref.state.pos_grad, { rtol: 1e-4, atol: 1e-5 }, `${what} pos_grad`);
      assertClose(st.neg_grad, ref.state.neg_grad, { rtol: 1e-4, atol: 1e-5 }, `${what} neg_grad`);
      gpu.dispose();
    }
  }
});

Deno.test("bagsMasks() keeps members, floor(members x ratio) uniform others, all or none at the edges", () => {
  const g = bagsGroups([5, 50, 500], [10, 100, 1000]);
  // 3 rows of category 0, 1 of category 1, none of category 2, 16 background rows.
  const labels = Int32Array.from([0, 0, 0, 1, ...Array(16).fill(3)]);
  const hits = new Float64Array(labels.length);
  const r = new Rng(rng(5).nextU32());
  const draws = 4000;
  for (let d = 0; d < draws; d++) {
    const m = bagsMasks(labels, g, 2.5, r);
    const col = (k: number) => Array.from(labels, (_, i) => m[i * 4 + k]);
    assert.ok(col(0).every((v) => v === 1), "group 0 takes every row");
    assert.deepEqual(col(3), Array(20).fill(0), "a group without members takes no row");
    // Group 1: its 3 members and floor(3 x 2.5) = 7 of the 17 others.
    assert.deepEqual(col(1).slice(0, 3), [1, 1, 1]);
    assert.equal(col(1).reduce((a, b) => a + b), 3 + 7);
    // Group 2: 1 member and 2 of the 19 others.
    assert.equal(col(2)[3], 1);
    assert.equal(col(2).reduce((a, b) => a + b), 1 + 2);
    col(1).forEach((v, i) => hits[i] += v);
  }
  // Each other row of group 1 is drawn with probability 7/17: binomial, 5 standard deviations.
  const p = 7 / 17, sd = Math.sqrt(draws * p * (1 - p));
  for (let i = 3; i < 20; i++) assert.ok(Math.abs(hits[i] - draws * p) < 5 * sd, `row ${i}: ${hits[i]} of ${draws}`);
  // A ratio that asks for more others than there are takes all of them.
  assert.ok(bagsMasks(labels, g, 100, r).every((v, k) => k % 4 === 3 ? v === 0 : v === 1));
});

gpuTest("bags: state() carries the sampler, so a resumed loss draws the same rows", async () => {
  const r = rng(6), c = 9, rows = 30;
  const params = { instance_counts: [1, 4, 20, 70, 150, 900, 2000, 3, 40], others_sample_ratio: 0.7, seed: 11 };
  const a = createLoss("bags", params, { numClasses: c });
  const steps = [0, 1, 2].map(() => ({
    labels: randomLabels(r, rows, c, 0.5),
    logits: randomLogits(r, rows * a.columns),
  }));
  a.forward(Tensor.from(steps[0].logits, [rows, a.columns]), steps[0].labels);
  const saved = JSON.parse(JSON.stringify(await a.state()));
  assert.equal(saved.rng.length, 4);
  const b = createLoss("bags", params, { numClasses: c });
  b.loadState(saved);
  for (const s of steps.slice(1)) {
    const x = Tensor.from(s.logits, [rows, a.columns]);
    const wa = await a.forward(x, s.labels, { weights: true }).weight!.toF32();
    const wb = await b.forward(x, s.labels, { weights: true }).weight!.toF32();
    assert.deepEqual(wb, wa, "the same rows sampled after resuming");
  }
  a.dispose();
  b.dispose();
});

gpuTest("bags refuses bounds that do not increase, counts of the wrong length and labels on the GPU", async () => {
  assert.throws(
    () => parseLossParams("bags", { instance_counts: [1], group_bounds: [10, 10, 1000] }),
    (e: Error) => e instanceof InputError && /"group_bounds" .*strictly increasing.*got \[10,10,1000\]/.test(e.message),
  );
  assert.throws(() => parseLossParams("bags", { instance_counts: [1], group_bounds: [] }), /"group_bounds"/);
  // In a pipeline, before anything runs: the train stage's schema checks the loss parameters.
  const plan = trainParams.safeParse({ dataset: "t.json", loss: "bags", lossParams: { group_bounds: [100, 10] } });
  assert.ok(!plan.success);
  assert.deepEqual(plan.error.issues[0].path, ["lossParams", "group_bounds"]);
  assert.match(plan.error.issues[0].message, /strictly increasing/);
  assert.throws(
    () => createLoss("bags", { instance_counts: [1, 2, 3] }, { numClasses: 4 }),
    /"instance_counts" of the bags loss: expected 4 counts .*got 3/,
  );
  const loss = createLoss("bags", { instance_counts: [1, 200] }, { numClasses: 2 });
  const x = Tensor.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 6]);
  assert.throws(() => loss.forward(x, Tensor.from([0, 2], [2], "i32")), /give its labels as an Int32Array/);
  // A NaN logit is named by check(), as for every loss.
  loss.forward(Tensor.from([1, 2, 3, 4, 5, 6, 7, NaN, 9, 10, 11, 12], [2, 6]), Int32Array.from([0, 2]));
  await assert.rejects(() => loss.check(), /"logits\[1\]\[1\]"/);
  loss.dispose();
});
