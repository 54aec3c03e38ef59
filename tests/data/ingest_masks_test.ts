import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../../core/errors.ts";
import { readDatasetCache } from "../../data/dataset_cache.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { rleToString } from "../../eval/rle_encode.ts";
import { rng, SEED } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Random run lengths covering h x w pixels, background first. */
function randomRuns(r: ReturnType<typeof rng>, h: number, w: number): number[] {
  const runs: number[] = [];
  let left = h * w;
  if (r.float() < 0.3) runs.push(0);
  while (left > 0) {
    const n = Math.min(left, 1 + r.int(Math.max(1, Math.floor(left / 3))));
    runs.push(n);
    left -= n;
  }
  return runs;
}

/** A COCO-style file: two images, annotations with polygons, list RLE and compressed RLE; the runs by id. */
function cocoFile(r: ReturnType<typeof rng>): { j: Json; runs: Map<number, number[]> } {
  const images = [{ id: 7, width: 40, height: 30, file_name: "a.jpg" }, {
    id: 8,
    width: 25,
    height: 33,
    file_name: "b.jpg",
  }];
  const annotations: Json[] = [];
  const runsById = new Map<number, number[]>();
  for (let i = 0; i < 12; i++) {
    const im = images[i % 2], id = 100 + i;
    const runs = randomRuns(r, im.height, im.width);
    const size = [im.height, im.width];
    let segmentation: Json = [[1, 1, im.width - 2, 1, im.width / 2, im.height - 2]];
    if (i % 3 === 1) segmentation = { size, counts: runs };
    if (i % 3 === 2) {
      segmentation = { size, counts: rleToString({ h: im.height, w: im.width, counts: Uint32Array.from(runs) }) };
    }
    if (i % 3) runsById.set(id, runs);
    annotations.push({ id, image_id: im.id, category_id: 1, bbox: [1, 1, 5, 5], area: 25, segmentation, iscrowd: 0 });
  }
  return { j: { images, categories: [{ id: 1, name: "thing" }], annotations }, runs: runsById };
}

async function write(j: Json, dir?: string): Promise<string> {
  const file = join(dir ?? await Deno.makeTempDir(), "coco.json");
  await Deno.writeTextFile(file, JSON.stringify(j));
  return file;
}

Deno.test(`ingestDataset() keeps every RLE mask, list or compressed, through the cache (seed ${SEED})`, async () => {
  const r = rng(61);
  const { j, runs } = cocoFile(r);
  const dir = await Deno.makeTempDir();
  const file = await write(j, dir);
  const cache = join(dir, "cache");
  const { dataset, issues, cachePath } = await ingestDataset(file, { cache, chunkBytes: 1 + r.int(200) });
  assert.deepEqual(issues.errors, {});
  assert.deepEqual(issues.warnings, {});
  const a = dataset.annotations;
  assert.equal(a.count, j.annotations.length);
  for (let k = 0; k < a.count; k++) {
    const got = Array.from(a.rleCounts.subarray(a.rleStart[k], a.rleEnd[k]));
    assert.deepEqual(got, runs.get(a.ids[k]) ?? [], `annotation id ${a.ids[k]}`);
    assert.equal(a.polyEnd[k] - a.polyStart[k], runs.has(a.ids[k]) ? 0 : 1);
  }
  const back = await readDatasetCache(cachePath!);
  assert.deepEqual(back.annotations, dataset.annotations);
  const boxes = await ingestDataset(file, { cache, masks: false });
  assert.equal(boxes.fromCache, true);
  assert.equal(boxes.dataset.hasMasks, false);
  assert.equal(boxes.dataset.annotations.rleCounts.length, 0);
  assert.deepEqual(boxes.dataset.annotations.rleStart, dataset.annotations.rleStart);
});

/** Ingest `j` into a fresh cache folder; return the error (or result) and what the folder holds afterwards. */
async function ingestInto(j: Json, onError: "throw" | "skip" = "throw") {
  const dir = await Deno.makeTempDir();
  const file = await write(j, dir);
  const cache = join(dir, "cache");
  let error: Error | undefined;
  let result: Awaited<ReturnType<typeof ingestDataset>> | undefined;
  try {
    result = await ingestDataset(file, { cache, onError });
  } catch (e) {
    error = e as Error;
  }
  const left: string[] = [];
  try {
    for await (const e of Deno.readDir(cache)) left.push(e.name);
  } catch {
    // No cache folder at all: nothing written.
  }
  return { error, result, left };
}

const BAD_MASKS: {
  name: string;
  kind: string;
  mutate: (a: Json) => void;
  message: RegExp;
}[] = [
  {
    name: "RLE counts that do not sum to h*w",
    kind: "RLE counts do not sum to height x width",
    mutate: (a) => (a.segmentation = { size: [30, 40], counts: [10, 20, 30] }),
    message:
      /RLE "annotations\[\d+\]\.segmentation" \(annotation id \d+\) in "coco\.json": its counts sum to 60, expected 30x40 = 1200/,
  },
  {
    name: "a compressed RLE string that ends mid-number",
    kind: "malformed RLE counts",
    mutate: (a) => (a.segmentation = { size: [30, 40], counts: "0P" }),
    message: /not a compressed RLE string: character 1 "P"/,
  },
  {
    name: "an RLE of another size than its image",
    kind: "RLE size differs from its image",
    mutate: (a) => (a.segmentation = { size: [40, 30], counts: [1200] }),
    message: /\(annotation id \d+\) in "coco\.json": its size is \[40,30\], its image is 30x40/,
  },
  {
    name: "a segmentation list mixing polygons and an RLE",
    kind: "mixed polygon/RLE segmentation",
    mutate: (a) => (a.segmentation = [[1, 1, 5, 1, 3, 4], { size: [30, 40], counts: [1200] }]),
    message: /"annotations\[\d+\]\.segmentation" \(annotation id \d+\) in "coco\.json": a list holding an RLE object/,
  },
];

for (const bad of BAD_MASKS) {
  Deno.test(`ingestDataset() stops on ${bad.name} with one line naming file and id, writing nothing (seed ${SEED})`, async () => {
    const { j } = cocoFile(rng(63));
    const k = j.annotations.findIndex((a: Json) => a.image_id === 7);
    assert.ok(k >= 0);
    bad.mutate(j.annotations[k]);
    const { error, left } = await ingestInto(j);
    assert.ok(error instanceof InputError, String(error));
    assert.equal(error.message.split("\n").length, 1);
    assert.match(error.message, bad.message);
    assert.ok(error.message.includes(`id ${j.annotations[k].id}`), error.message);
    assert.ok(error.message.includes(`(${bad.kind}: 1)`), error.message);
    assert.deepEqual(left, [], "no cache file or index written");
    const skipped = await ingestInto(j, "skip");
    assert.equal(skipped.result!.issues.errors[bad.kind], 1);
  });
}

Deno.test(`ingestDataset() counts short polygons, polygons outside the image and crowd masks as warnings (seed ${SEED})`, async () => {
  const { j } = cocoFile(rng(64));
  const polys = j.annotations.filter((a: Json) => Array.isArray(a.segmentation));
  assert.ok(polys.length >= 3);
  polys[0].segmentation.push([3, 3, 4, 4]);
  const im = j.images.find((x: Json) => x.id === polys[1].image_id);
  polys[1].segmentation[0][0] = im.width + 1.5;
  const rle = j.annotations.find((a: Json) => !Array.isArray(a.segmentation));
  rle.iscrowd = 1;
  polys[2].iscrowd = 1;
  const { dataset, issues } = await ingestDataset(await write(j), { cache: false });
  assert.deepEqual(issues.errors, {});
  assert.deepEqual(issues.warnings, {
    "polygon with fewer than 3 points": 1,
    "polygon outside image": 1,
    "mask on a crowd annotation": 2,
  });
  const has = (re: RegExp) => assert.ok(issues.messages.some((m) => re.test(m)), `${re}: ${issues.messages}`);
  has(new RegExp(`\\(annotation id ${polys[0].id}\\) in "coco\\.json" has fewer than 3 points`));
  has(
    new RegExp(`annotation id ${polys[1].id} in "coco\\.json" has a point outside its ${im.width}x${im.height} image`),
  );
  has(new RegExp(`Crowd annotation id ${rle.id} in "coco\\.json" has a mask`));
  // Warnings keep the data: every annotation and its mask are there.
  assert.equal(dataset.annotations.count, j.annotations.length);
  assert.ok(dataset.annotations.rleCounts.length > 0);
});
