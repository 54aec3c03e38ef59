import assert from "node:assert/strict";
import { join } from "node:path";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { repeatFactors, RepeatFactorSampler } from "../../data/repeat_factor_sampler.ts";
import { ciSet, rng, SEED } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test(`repeatFactors() follows the LVIS paper's formula, computed from the JSON (seed ${SEED})`, async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const j: Json = JSON.parse(await Deno.readTextFile(synth.trainJson));
  // Large enough thresholds that some images of this small set repeat.
  const t = 10 ** rng(1).uniform(-1.5, -0.5);
  const imagesOf = new Map<number, Set<number>>();
  for (const a of j.annotations) {
    if (!imagesOf.has(a.category_id)) imagesOf.set(a.category_id, new Set());
    imagesOf.get(a.category_id)!.add(a.image_id);
  }
  const rc = (c: number) => Math.max(1, Math.sqrt(t / (imagesOf.get(c)!.size / j.images.length)));
  const got = repeatFactors(dataset, t);
  j.images.forEach((im: Json, i: number) => {
    const cats = j.annotations.filter((a: Json) => a.image_id === im.id).map((a: Json) => a.category_id);
    const want = Math.max(1, ...cats.map(rc));
    assert.ok(Math.abs(got[i] - want) <= 1e-12 * want, `image ${im.id}: ${got[i]} vs ${want}`);
  });
  assert.ok(got.some((r) => r > 1), "no image is repeated; the test would not test rounding");
});

/**
 * The bounds [lo, hi] that a Binomial(n, p) count leaves with probability at most `alpha` in all
 * (half each side), from the exact probability mass function in float64.
 */
function binomialBounds(n: number, p: number, alpha = 1e-9): [number, number] {
  if (p <= 0 || p >= 1) return p <= 0 ? [0, 0] : [n, n];
  const logFact = [0];
  for (let k = 1; k <= n; k++) logFact.push(logFact[k - 1] + Math.log(k));
  const pmf = Array.from(
    { length: n + 1 },
    (_, k) => Math.exp(logFact[n] - logFact[k] - logFact[n - k] + k * Math.log(p) + (n - k) * Math.log1p(-p)),
  );
  let lo = 0, below = 0;
  while (below + pmf[lo] <= alpha / 2) below += pmf[lo++];
  let hi = n, above = 0;
  while (above + pmf[hi] <= alpha / 2) above += pmf[hi--];
  return [lo, hi];
}

/**
 * Every epoch has each image floor(r) or ceil(r) times, and an integer factor exactly r times;
 * over `epochs` epochs, each image's extra draws lie in its binomial's 1e-9 bounds.
 */
function checkEpochs(s: RepeatFactorSampler, epochs: number): void {
  const extra = new Float64Array(s.factors.length);
  for (let e = 0; e < epochs; e++) {
    const n = new Uint32Array(s.factors.length);
    for (const i of s.epoch(e)) n[i]++;
    n.forEach((k, i) => {
      const r = s.factors[i], whole = Math.floor(r);
      assert.ok(k === whole || (r > whole && k === whole + 1), `epoch ${e}: image ${i} drawn ${k} times, factor ${r}`);
      extra[i] += k - whole;
    });
  }
  s.factors.forEach((r, i) => {
    const [lo, hi] = binomialBounds(epochs, r - Math.floor(r));
    assert.ok(
      extra[i] >= lo && extra[i] <= hi,
      `image ${i}, factor ${r}: ${extra[i]} extra draws, not in [${lo}, ${hi}]`,
    );
  });
}

Deno.test(`RepeatFactorSampler draws each epoch afresh, reproducibly, rounding stochastically (seed ${SEED})`, async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const seed = rng(2).int(1e6);
  const s = new RepeatFactorSampler({ dataset, threshold: 0.05, seed });
  assert.deepEqual(s.epoch(3), new RepeatFactorSampler({ dataset, threshold: 0.05, seed }).epoch(3));
  assert.notDeepEqual(s.epoch(3), s.epoch(4));
  assert.notDeepEqual(s.epoch(3), new RepeatFactorSampler({ dataset, threshold: 0.05, seed: seed + 1 }).epoch(3));
  assert.ok(s.factors.some((r) => r % 1 !== 0), "some factor is fractional: the test would not test rounding");
  checkEpochs(s, 400);
});

Deno.test(`RepeatFactorSampler: exact counts for integer factors, binomial ones for the rest (seed ${SEED})`, async () => {
  // 64 images and t = 9/64, so frequencies and t / f are exact binary fractions: a category on 1 image
  // gives r = 3, on 4 images r = 1.5 exactly, on 2 images r = sqrt(4.5), on 9 or more r = 1.
  const on: Record<number, number[]> = { 1: [0], 2: [5, 6], 3: [1, 2, 3, 4], 4: [1, 7, 8, 9, 10, 11, 12, 13, 14] };
  on[5] = Array.from({ length: 36 }, (_, k) => 20 + k);
  const images = Array.from({ length: 64 }, (_, i) => ({ id: 100 + i, width: 32, height: 32, file_name: `${i}.png` }));
  let id = 1;
  const annotations = Object.entries(on).flatMap(([c, ims]) =>
    ims.map((i) => ({ id: id++, image_id: 100 + i, category_id: Number(c), bbox: [1, 1, 4, 4], area: 16 }))
  );
  const categories = Object.keys(on).map((c) => ({ id: Number(c), name: `c${c}`, frequency: "r" }));
  const file = join(await Deno.makeTempDir(), "exact.json");
  await Deno.writeTextFile(file, JSON.stringify({ images, categories, annotations }));
  const { dataset } = await ingestDataset(file, { cache: false });
  const s = new RepeatFactorSampler({ dataset, threshold: 9 / 64, seed: rng(3).int(1e6), shuffle: false });
  const want = Array.from({ length: 64 }, (_, i) => i === 0 ? 3 : i <= 4 ? 1.5 : i <= 6 ? Math.sqrt(4.5) : 1);
  assert.deepEqual(Array.from(s.factors), want);
  assert.equal(s.expectedEpochSize, 3 + 4 * 1.5 + 2 * Math.sqrt(4.5) + 57);
  // Unshuffled, an epoch lists each image's copies together, in image order.
  const e0 = Array.from(s.epoch(0));
  assert.deepEqual(e0, [...e0].sort((a, b) => a - b));
  checkEpochs(s, 400);
});
