import assert from "node:assert/strict";
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

Deno.test(`RepeatFactorSampler draws each epoch afresh, reproducibly, rounding stochastically (seed ${SEED})`, async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const seed = rng(2).int(1e6);
  const s = new RepeatFactorSampler({ dataset, threshold: 0.05, seed });
  assert.deepEqual(s.epoch(3), new RepeatFactorSampler({ dataset, threshold: 0.05, seed }).epoch(3));
  assert.notDeepEqual(s.epoch(3), s.epoch(4));
  assert.notDeepEqual(s.epoch(3), new RepeatFactorSampler({ dataset, threshold: 0.05, seed: seed + 1 }).epoch(3));
  const epochs = 400;
  const total = new Float64Array(dataset.images.count);
  let size = 0;
  for (let e = 0; e < epochs; e++) {
    const ep = s.epoch(e);
    size += ep.length;
    const n = new Uint32Array(dataset.images.count);
    for (const i of ep) n[i]++;
    n.forEach((k, i) => {
      const r = s.factors[i];
      assert.ok(k === Math.floor(r) || k === Math.ceil(r), `image ${i} drawn ${k} times with factor ${r}`);
      total[i] += k;
    });
  }
  // The mean of a Bernoulli part over 400 epochs is within 5 standard deviations (0.025) of its probability.
  total.forEach((t, i) => assert.ok(Math.abs(t / epochs - s.factors[i]) < 0.13, `image ${i}: mean ${t / epochs}`));
  assert.ok(Math.abs(size / epochs - s.expectedEpochSize) < 0.02 * s.expectedEpochSize);
});
