import assert from "node:assert/strict";
import { ClassAwareSampler } from "../../data/class_aware_sampler.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { lvisSubset } from "../../data/lvis_subset.ts";
import { lvisEvalFiles } from "../../eval/lvis_eval.ts";
import { ciSet, rng, SEED } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

for (const [name, power] of [["class-balanced", 0], ["square-root", 0.5]] as const) {
  Deno.test(`ClassAwareSampler (${name}) draws each image as often as its categories' shares say (seed ${SEED})`, async () => {
    const synth = await ciSet();
    const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
    const j: Json = JSON.parse(await Deno.readTextFile(synth.trainJson));
    // From the JSON: category c is picked with probability n_c^q / sum, then one of its n_c images.
    const imagesOf = new Map<number, Set<number>>();
    for (const a of j.annotations) {
      if (!imagesOf.has(a.category_id)) imagesOf.set(a.category_id, new Set());
      imagesOf.get(a.category_id)!.add(a.image_id);
    }
    let total = 0;
    for (const s of imagesOf.values()) total += s.size ** power;
    const want = j.images.map((im: Json) => {
      let p = 0;
      for (const s of imagesOf.values()) if (s.has(im.id)) p += s.size ** power / total / s.size;
      return p;
    });
    const seed = rng(3).int(1e6);
    const s = new ClassAwareSampler({ dataset, power, seed });
    assert.deepEqual(s.epoch(2), new ClassAwareSampler({ dataset, power, seed }).epoch(2));
    assert.notDeepEqual(s.epoch(2), s.epoch(3));
    const annotated = j.images.filter((im: Json) => j.annotations.some((a: Json) => a.image_id === im.id)).length;
    assert.equal(s.epochSize, annotated);
    const epochs = 300, counts = new Float64Array(dataset.images.count);
    for (let e = 0; e < epochs; e++) for (const i of s.epoch(e)) counts[i]++;
    const draws = epochs * s.epochSize;
    // Each image's count is binomial(draws, p): within 5 standard deviations (and 0 when p = 0).
    want.forEach((p: number, i: number) => {
      const sd = Math.sqrt(draws * p * (1 - p));
      assert.ok(Math.abs(counts[i] - draws * p) <= 5 * sd, `image ${i}: ${counts[i]} draws, expected ${draws * p}`);
    });
    const c0 = dataset.categories.ids.indexOf(Number(imagesOf.keys().next().value));
    const n0 = imagesOf.values().next().value!.size;
    assert.ok(Math.abs(s.categoryProbability(c0) - n0 ** power / total) < 1e-12);
  });
}

Deno.test(`lvisSubset() of every image evaluates exactly as the file it was read from (seed ${SEED})`, async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.valJson, { cache: false });
  const gt: Json = JSON.parse(await Deno.readTextFile(synth.valJson));
  const r = rng(4);
  // Results: the ground truth jittered, with random scores, plus a few boxes of wrong categories.
  const dt = gt.annotations.map((a: Json, k: number) => ({
    image_id: a.image_id,
    category_id: k % 7 === 0 ? gt.categories[r.int(gt.categories.length)].id : a.category_id,
    bbox: a.bbox.map((v: number) => v + r.uniform(-2, 2)),
    score: r.uniform(0.05, 1),
  }));
  const dir = await Deno.makeTempDir({ prefix: "tailor_subset_" });
  const all = Array.from({ length: dataset.images.count }, (_, i) => i);
  await Deno.writeTextFile(`${dir}/subset.json`, JSON.stringify(lvisSubset(dataset, all)));
  await Deno.writeTextFile(`${dir}/dt.json`, JSON.stringify(dt));
  const want = await lvisEvalFiles(synth.valJson, `${dir}/dt.json`, { iouType: "bbox" });
  const got = await lvisEvalFiles(`${dir}/subset.json`, `${dir}/dt.json`, { iouType: "bbox" });
  assert.deepEqual(got.results, want.results);
  assert.ok(want.results.AP > 0.1, "the results should score something");
  // A subset keeps only its images' annotations.
  const some = lvisSubset(dataset, [1, 3]) as { images: Json[]; annotations: Json[] };
  const ids = new Set(some.images.map((im) => im.id));
  assert.deepEqual([...ids], [dataset.images.ids[1], dataset.images.ids[3]]);
  assert.equal(some.annotations.length, gt.annotations.filter((a: Json) => ids.has(a.image_id)).length);
});
