import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError, InputErrors } from "../../core/errors.ts";
import type { Dataset } from "../../data/dataset.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { ciSet, FIXTURES, rng, SEED } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Compare every column with what JSON.parse of the same file says. */
function assertMatchesJson(ds: Dataset, j: Json): void {
  const imgIndex = new Map<number, number>(j.images.map((im: Json, i: number) => [im.id, i]));
  const catIds = j.categories.map((c: Json) => c.id).sort((a: number, b: number) => a - b);
  assert.deepEqual(Array.from(ds.images.ids), j.images.map((im: Json) => im.id));
  assert.deepEqual(Array.from(ds.images.width), j.images.map((im: Json) => im.width));
  assert.deepEqual(Array.from(ds.categories.ids), catIds);
  assert.equal(ds.annotations.count, j.annotations.length);
  // Expected order: grouped by image in file order of images, file order within an image.
  const expected = j.annotations.map((a: Json, i: number) => ({ a, i }))
    .sort((x: Json, y: Json) => imgIndex.get(x.a.image_id)! - imgIndex.get(y.a.image_id)! || x.i - y.i);
  expected.forEach(({ a }: Json, k: number) => {
    assert.equal(ds.annotations.ids[k], a.id);
    assert.equal(ds.annotations.image[k], imgIndex.get(a.image_id));
    assert.equal(ds.categories.ids[ds.annotations.category[k]], a.category_id);
    assert.deepEqual(Array.from(ds.annotations.bbox.subarray(4 * k, 4 * k + 4)), a.bbox);
    assert.equal(ds.annotations.area[k], a.area);
    const polys = [];
    for (let p = ds.annotations.polyStart[k]; p < ds.annotations.polyEnd[k]; p++) {
      polys.push(
        Array.from(ds.annotations.coords.subarray(ds.annotations.coordStart[p], ds.annotations.coordStart[p + 1])),
      );
    }
    assert.deepEqual(polys, (a.segmentation ?? []).map((p: number[]) => p.map(Math.fround)));
  });
  j.images.forEach((im: Json, i: number) => {
    const neg = Array.from(ds.images.negCategories.subarray(ds.images.negStart[i], ds.images.negStart[i + 1]));
    assert.deepEqual(neg.map((c) => ds.categories.ids[c]), im.neg_category_ids ?? []);
  });
}

Deno.test(`ingestDataset() matches JSON.parse on the LVIS fixtures and a synthetic set at random chunk sizes (seed ${SEED})`, async () => {
  const r = rng(1);
  const synth = await ciSet();
  const files = ["c01_tiny/gt.json", "c02_small/gt.json", "s01_segm/gt.json"].map((f) => join(FIXTURES, f));
  for (const file of [...files, synth.trainJson, synth.valJson]) {
    const j = JSON.parse(await Deno.readTextFile(file));
    const chunkBytes = 1 + r.int(300);
    const { dataset, issues } = await ingestDataset(file, { cache: false, chunkBytes });
    assert.deepEqual(issues.errors, {}, file);
    assertMatchesJson(dataset, j);
  }
});

Deno.test(`ingestDataset() reads numbers exactly as JSON.parse does (seed ${SEED})`, async () => {
  const r = rng(2);
  const forms = [
    () => (r.float() * 1000).toFixed(r.int(6)),
    () => String(r.float() * 1e3),
    () => `${(r.float() * 9 + 1).toFixed(3)}e${r.int(5) - 2}`,
    () => `${(r.float() * 9 + 1).toFixed(2)}E+${r.int(3)}`,
    () => String(r.int(100000)),
    () => `-${(r.float() * 50).toFixed(4)}`,
    () => `0.${String(r.int(1e9)).padStart(9, "0")}${r.int(1e9)}`,
  ];
  const num = () => forms[r.int(forms.length)]();
  const anns = Array.from(
    { length: 200 },
    (_, i) =>
      `{"id": ${i + 1}, "image_id": 1, "category_id": 1, "bbox": [${num()}, ${num()}, ${num()}, ${num()}], ` +
      `"area": ${num().replace("-", "")}, "segmentation": [[${Array.from({ length: 8 }, num).join(",")}]]}`,
  );
  const text = `{"images": [{"id": 1, "width": 100000, "height": 100000}], "categories": [{"id": 1, "name": "a"}],` +
    `"annotations": [${anns.join(",\n")}]}`;
  const dir = await Deno.makeTempDir();
  const file = join(dir, "numbers.json");
  await Deno.writeTextFile(file, text);
  const { dataset } = await ingestDataset(file, { cache: false, chunkBytes: 1 + r.int(64), onError: "skip" });
  assertMatchesJson(dataset, JSON.parse(text));
});

async function _mutated(mutate: (j: Json) => void): Promise<string> {
  const synth = await ciSet();
  const j = JSON.parse(await Deno.readTextFile(synth.trainJson));
  mutate(j);
  const file = join(await Deno.makeTempDir(), "train.json");
  await Deno.writeTextFile(file, JSON.stringify(j));
  return file;
}

Deno.test(`ingestDataset() names the file, the JSON path and the value of a malformed annotation (seed ${SEED})`, async () => {
  const r = rng(3);
  let k = 0;
  const file = await _mutated((j) => {
    k = r.int(j.annotations.length);
    j.annotations[k].bbox.pop();
  });
  await assert.rejects(
    () => ingestDataset(file, { cache: false }),
    (e: Error) => {
      assert.ok(e instanceof InputError);
      assert.match(
        e.message,
        new RegExp(`^Cannot read "annotations\\[${k}\\]\\.bbox" in "train\\.json": expected 4 numbers, got 3 `),
      );
      assert.match(e.message, /1 error \(malformed annotation: 1\)/);
      return true;
    },
  );
});

Deno.test(`ingestDataset() reports unknown and duplicate ids as errors and stray boxes as warnings, with counts (seed ${SEED})`, async () => {
  const r = rng(4);
  const picks: number[] = [];
  const file = await _mutated((j) => {
    const n = j.annotations.length;
    while (picks.length < 4) {
      const k = r.int(n);
      if (!picks.includes(k)) picks.push(k);
    }
    j.annotations[picks[0]].image_id = 999999;
    j.annotations[picks[1]].category_id = 777;
    j.annotations[picks[2]].id = j.annotations[picks[3]].id;
    // A box pushed past the right edge of its own image, on an annotation that is otherwise valid.
    let k = r.int(n);
    while (picks.includes(k)) k = (k + 1) % n;
    picks.push(k);
    const a = j.annotations[k];
    a.bbox[0] = j.images.find((im: { id: number }) => im.id === a.image_id).width + 5;
    j.images[1].neg_category_ids.push(4242);
  });
  const { dataset, issues } = await ingestDataset(file, { cache: false, onError: "skip" });
  assert.deepEqual(issues.errors, {
    "unknown image id": 1,
    "unknown category id": 2,
    "duplicate annotation id": 1,
  });
  assert.ok((issues.warnings["box outside image"] ?? 0) >= 1);
  assert.ok(issues.messages.some((m) => m.includes(`"annotations[${picks[4]}].bbox"`) && m.includes("outside")));
  assert.ok(issues.messages.some((m) => m.includes(`"annotations[${picks[0]}].image_id"`) && m.includes("999999")));
  assert.ok(issues.messages.some((m) => m.includes(`"images[1].neg_category_ids[`) && m.includes("4242")));
  const total = JSON.parse(await Deno.readTextFile(file)).annotations.length;
  assert.equal(dataset.annotations.count, total - 2);
  await assert.rejects(
    () => ingestDataset(file, { cache: false }),
    /Unknown (image|category) in "annotations\[\d+\]\.(image|category)_id" in "train\.json"/,
  );
});

Deno.test("ingestDataset() rejects broken JSON and a non-positive image size, naming where", async () => {
  const dir = await Deno.makeTempDir();
  const broken = join(dir, "broken.json");
  await Deno.writeTextFile(broken, '{"images": [], "categories": [], "annotations": [{"id": 1,, }]}');
  await assert.rejects(
    () => ingestDataset(broken, { cache: false }),
    /Cannot parse "annotations\[0\]" in "broken\.json"/,
  );
  const trailing = join(dir, "trailing.json");
  await Deno.writeTextFile(trailing, '{"images": [], "categories": [], "annotations": []} x');
  await assert.rejects(() => ingestDataset(trailing, { cache: false }), /byte 52 in "trailing\.json"/);
  const synth = await ciSet();
  const text = await Deno.readTextFile(synth.trainJson);
  const cut = join(dir, "cut.json");
  await Deno.writeTextFile(cut, text.slice(0, Math.floor(text.length * rng(5).uniform(0.2, 0.9))));
  await assert.rejects(
    () => ingestDataset(cut, { cache: false, chunkBytes: 4096 }),
    /in "cut\.json": (unexpected end of file|unterminated string)/,
  );
  const size = await _mutated((j) => (j.images[2].height = 0));
  await assert.rejects(
    () => ingestDataset(size, { cache: false }),
    /"images\[2\]\.height" in "train\.json": Too small/,
  );
});

Deno.test("ingestDataset() reads COCO files with crowd RLE regions and computes missing category statistics", async () => {
  const coco = {
    images: [{ id: 5, width: 40, height: 30, file_name: "a.jpg" }, {
      id: 9,
      width: 20,
      height: 20,
      file_name: "b.jpg",
    }],
    categories: [{ id: 3, name: "x" }, { id: 1, name: "y" }],
    annotations: [
      {
        id: 1,
        image_id: 9,
        category_id: 3,
        bbox: [1, 2, 3, 4],
        area: 12,
        segmentation: [[1, 2, 4, 2, 4, 6]],
        iscrowd: 0,
      },
      {
        id: 2,
        image_id: 5,
        category_id: 3,
        bbox: [0, 0, 5, 5],
        area: 20,
        segmentation: { counts: [0, 25, 1175], size: [30, 40] },
        iscrowd: 1,
      },
      { id: 3, image_id: 5, category_id: 3, bbox: [2, 2, 5, 5], area: 20, iscrowd: 0 },
    ],
  };
  const file = join(await Deno.makeTempDir(), "coco.json");
  await Deno.writeTextFile(file, JSON.stringify(coco));
  const { dataset: ds } = await ingestDataset(file, { cache: false });
  assert.equal(ds.format, "coco");
  assert.deepEqual(Array.from(ds.categories.ids), [1, 3]);
  assert.deepEqual(Array.from(ds.categories.imageCount), [0, 2]);
  assert.deepEqual(Array.from(ds.categories.instanceCount), [0, 3]);
  assert.deepEqual(Array.from(ds.categories.frequency), [0, 0]);
  assert.deepEqual(Array.from(ds.annotations.ids), [2, 3, 1]);
  assert.deepEqual(Array.from(ds.annotations.iscrowd), [1, 0, 0]);
  assert.deepEqual(Array.from(ds.images.annStart), [0, 2, 3]);
  assert.equal(ds.annotations.polyEnd[2] - ds.annotations.polyStart[2], 1);
  assert.equal(ds.annotations.polyEnd[0] - ds.annotations.polyStart[0], 0);
});

Deno.test(`ingestDataset() shows every kind of error of a file at once, the first few of each (seed ${SEED})`, async () => {
  const r = rng(6);
  const bad: number[] = [];
  const file = await _mutated((j) => {
    for (let n = 0; n < 5; n++) {
      const k = r.int(j.annotations.length);
      if (!bad.includes(k)) bad.push(k);
    }
    for (const k of bad) j.annotations[k].bbox.pop();
    const [a, b] = [...j.annotations.keys()].filter((k) => !bad.includes(k)).slice(-2);
    j.annotations[b].id = j.annotations[a].id;
  });
  await assert.rejects(
    () => ingestDataset(file, { cache: false }),
    (e: Error) => {
      assert.ok(e instanceof InputErrors, String(e));
      const lines = e.problems;
      const boxes = lines.filter((l) => /^Cannot read "annotations\[\d+\]\.bbox" in "train\.json": expected 4/.test(l));
      assert.equal(boxes.length, Math.min(3, bad.length), "the first three of a kind");
      assert.ok(lines.some((l) => /^Duplicate id in "annotations\[\d+\]\.id" in "train\.json": /.test(l)));
      assert.equal(lines.length, boxes.length + 2);
      assert.equal(
        lines.at(-1),
        `train.json: ${bad.length + 1} errors (malformed annotation: ${bad.length}, duplicate annotation id: 1); ` +
          "0 warnings",
      );
      return true;
    },
  );
});
