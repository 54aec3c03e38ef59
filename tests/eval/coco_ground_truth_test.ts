import assert from "node:assert/strict";
import { frequencyOf } from "../../eval/ground_truth.ts";
import { lvisEvalFiles, parseGroundTruth } from "../../eval/mod.ts";
import { rng, writeCase } from "./_util.ts";

/** A random plain COCO ground truth: no frequency, no negative or not-exhaustive lists. */
function cocoCase(salt: number) {
  const r = rng(salt);
  const images = Array.from({ length: 6 + r.int(5) }, (_, i) => ({ id: 10 + 3 * i, width: 640, height: 480 }));
  const categories = Array.from({ length: 4 }, (_, k) => ({ id: 1 + 2 * k, name: `c${k}` }));
  const annotations: Record<string, unknown>[] = [];
  const dt: Record<string, unknown>[] = [];
  for (const img of images) {
    for (const c of categories) {
      if (r.float() < 0.4) continue;
      const box = [r.uniform(0, 300), r.uniform(0, 200), r.uniform(10, 200), r.uniform(10, 200)];
      annotations.push({
        id: annotations.length + 1,
        image_id: img.id,
        category_id: c.id,
        bbox: box,
        area: box[2] * box[3],
      });
      dt.push({ image_id: img.id, category_id: c.id, bbox: box.map((v) => v + r.uniform(-4, 4)), score: r.float() });
    }
    // Detections on categories the image does not have: false positives under COCO's exhaustive labels.
    for (let j = 0; j < 3; j++) {
      const box = [r.uniform(0, 300), r.uniform(0, 200), r.uniform(10, 200), r.uniform(10, 200)];
      dt.push({ image_id: img.id, category_id: categories[r.int(4)].id, bbox: box, score: r.float() });
    }
  }
  return { coco: { images, categories, annotations }, dt };
}

Deno.test("frequencyOf() applies LVIS's thresholds: rare 1-10, common 11-100, frequent > 100", () => {
  assert.deepEqual([1, 10, 11, 100, 101, 5000].map(frequencyOf), [0, 0, 1, 1, 2, 2]);
});

Deno.test("a COCO ground truth evaluates as the LVIS file with derived frequencies and every absent category negative", async () => {
  const { coco, dt } = cocoCase(61);
  // The same data as LVIS would spell it: frequency from the annotated images, all other categories negative.
  const imagesOf = new Map<number, Set<number>>();
  for (const a of coco.annotations) {
    const s = imagesOf.get(a.category_id as number) ?? new Set<number>();
    imagesOf.set(a.category_id as number, s.add(a.image_id as number));
  }
  const lvis = {
    ...coco,
    categories: coco.categories.map((c) => ({ ...c, frequency: "rcf"[frequencyOf(imagesOf.get(c.id)?.size ?? 0)] })),
    images: coco.images.map((img) => ({
      ...img,
      neg_category_ids: coco.categories.map((c) => c.id).filter((id) =>
        !coco.annotations.some((a) => a.image_id === img.id && a.category_id === id)
      ),
      not_exhaustive_category_ids: [],
    })),
  };
  const a = await writeCase(coco, dt), b = await writeCase(lvis, dt);
  try {
    const got = await lvisEvalFiles(a.gt, a.dt), want = await lvisEvalFiles(b.gt, b.dt);
    assert.deepEqual(got.results, want.results);
    assert.deepEqual(got.per_category, want.per_category);
    assert.ok(got.results.AP > 0 && got.results.AP < 1, `AP ${got.results.AP}`);
    assert.equal(got.counts.dtUsed, dt.length);
    const gt = parseGroundTruth(coco, "coco.json", false);
    assert.equal(gt.notes.length, 2);
    assert.match(gt.notes[0], /"coco\.json" has no neg_category_ids .*exhaustively labelled .*COCO semantics/);
    assert.match(gt.notes[1], /"coco\.json" has no category frequencies: derived from the images .*\(rare 1-10/);
    assert.equal(parseGroundTruth(lvis, "lvis.json", false).notes.length, 0);
  } finally {
    await Deno.remove(a.dir, { recursive: true });
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("a COCO ground truth's frequencies come from image_count where every category has one", () => {
  const { coco } = cocoCase(62);
  const counts = [3, 10, 11, 150];
  const gt = parseGroundTruth(
    { ...coco, categories: coco.categories.map((c, k) => ({ ...c, image_count: counts[k] })) },
    "coco.json",
    false,
  );
  assert.deepEqual(Array.from(gt.frequency), [0, 0, 1, 2]);
  assert.match(gt.notes[1], /image_count.*: 2 r, 1 c, 1 f/);
});
