import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import sharp from "sharp";
import { InputError } from "../../core/errors.ts";
import { BatchLoader, type ImageBatch } from "../../data/image/batch_loader.ts";
import { decodeImage, type Normalization, normalizeToChw } from "../../data/image/decode_image.ts";
import { DecodePool } from "../../data/image/decode_pool.ts";
import { transformPolygon } from "../../data/image/resize_plan.ts";
import { imagePath } from "../../data/image_path.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { forEachPixelInPolygon } from "../../data/synth/raster.ts";
import { ciSet, rng, SEED } from "./_fixtures.ts";

const RAW = { mean: [0, 0, 0] as const, std: [1, 1, 1] as const };

async function _collect(loader: BatchLoader): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

Deno.test(`BatchLoader moves boxes and polygons with the resized, flipped pixels (seed ${SEED})`, async () => {
  const r = rng(1);
  const dir = await Deno.makeTempDir();
  const images = [];
  const annotations = [];
  for (let i = 0; i < 4; i++) {
    const w = 60 + r.int(60);
    const h = 50 + r.int(60);
    // A red quadrilateral on black, well inside the image.
    const poly = [0.2, 0.15, 0.7, 0.25, 0.8, 0.8, 0.3, 0.6].map((v, k) =>
      Math.round((v + 0.1 * r.float()) * (k % 2 ? h : w) * 0.9 * 100) / 100
    );
    const rgb = new Uint8Array(w * h * 3);
    forEachPixelInPolygon(poly, w, h, (p) => rgb.set([250, 10, 10], 3 * p));
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, `${i}.png`));
    const xs = poly.filter((_, k) => k % 2 === 0);
    const ys = poly.filter((_, k) => k % 2 === 1);
    const bbox = [
      Math.min(...xs),
      Math.min(...ys),
      Math.max(...xs) - Math.min(...xs),
      Math.max(...ys) - Math.min(...ys),
    ];
    images.push({ id: i + 1, width: w, height: h, file_name: `${i}.png` });
    annotations.push({ id: i + 1, image_id: i + 1, category_id: 1, bbox, area: 1, segmentation: [poly] });
  }
  const file = join(dir, "gt.json");
  await Deno.writeTextFile(file, JSON.stringify({ images, annotations, categories: [{ id: 1, name: "q" }] }));
  const { dataset } = await ingestDataset(file, { cache: false });
  for (const flipProbability of [0, 1]) {
    const shortSides = [40 + r.int(40), 100 + r.int(60)];
    const loader = new BatchLoader({
      dataset,
      order: [0, 1, 2, 3],
      batchSize: 3,
      workers: 1,
      seed: SEED,
      augment: { shortSides, maxSize: 400, flipProbability, normalization: RAW, sizeDivisor: 16 },
    });
    const batches = await _collect(loader);
    assert.deepEqual(batches.map((b) => b.batch), [3, 1]);
    for (const b of batches) {
      assert.equal(b.height % 16, 0);
      b.plans.forEach((plan, k) => {
        assert.equal(plan.flip, flipProbability === 1);
        const a = b.imageIndices[k];
        const coords = dataset.annotations.coords.subarray(
          dataset.annotations.coordStart[dataset.annotations.polyStart[a]],
          dataset.annotations.coordStart[dataset.annotations.polyEnd[a]],
        );
        const poly = transformPolygon(plan, coords);
        const box = b.boxes[k];
        const xs = poly.filter((_, i) => i % 2 === 0);
        const ys = poly.filter((_, i) => i % 2 === 1);
        const expected = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
        expected.forEach((v, i) => assert.ok(Math.abs(box[i] - v) < 1e-3, `box ${box} vs polygon ${expected}`));
        assert.deepEqual(Array.from(b.labels[k]), [0]);
        for (let c = 0; c < 3; c++) {
          const base = (k * 3 + c) * b.height * b.width;
          for (let y = 0; y < b.height; y++) {
            for (let x = y < plan.outHeight ? plan.outWidth : 0; x < b.width; x++) {
              assert.equal(b.images[base + y * b.width + x], 0, "padding must be zero");
            }
          }
        }
        const plane = b.height * b.width;
        const red = (x: number, y: number) => b.images[k * 3 * plane + y * b.width + x];
        let inside = 0;
        let redInside = 0;
        forEachPixelInPolygon(poly, plan.outWidth, plan.outHeight, (_i, x, y) => {
          inside++;
          if (red(x, y) > 128) redInside++;
        });
        assert.ok(redInside >= 0.9 * inside, `${redInside} of ${inside} pixels inside the moved polygon are red`);
        // Interpolation spreads an edge over about one source pixel, i.e. `scale` output pixels.
        const m = 1 + 1.5 * Math.max(plan.outWidth / plan.width, plan.outHeight / plan.height);
        let outside = 0;
        let redOutside = 0;
        for (let y = 0; y < b.height; y++) {
          for (let x = 0; x < b.width; x++) {
            if (x >= box[0] - m && x <= box[2] + m && y >= box[1] - m && y <= box[3] + m) continue;
            outside++;
            if (red(x, y) > 30) redOutside++;
          }
        }
        assert.equal(redOutside, 0, `${redOutside} of ${outside} pixels outside the moved box are red`);
      });
    }
  }
});

Deno.test(`BatchLoader gives the same batches with 0 and 2 decode workers (seed ${SEED})`, async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const r = rng(2);
  const order = Array.from({ length: 20 }, () => r.int(dataset.images.count));
  const augment = { shortSides: [48, 64, 80], flipProbability: 0.5 };
  const a = await _collect(new BatchLoader({ dataset, order, batchSize: 6, workers: 0, seed: SEED, augment }));
  const b = await _collect(new BatchLoader({ dataset, order, batchSize: 6, workers: 2, seed: SEED, augment }));
  assert.equal(a.length, 4);
  assert.deepEqual(a.map((x) => x.images), b.map((x) => x.images));
  assert.deepEqual(a.map((x) => x.boxes), b.map((x) => x.boxes));
  assert.ok(new Set(a.flatMap((x) => x.plans.map((p) => p.outWidth))).size > 1, "scale jitter drew one size only");
});

Deno.test("BatchLoader names a missing image, or skips and counts it when asked", async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const gone = { ...dataset, imageRoot: await Deno.makeTempDir() };
  await Deno.mkdir(join(gone.imageRoot, "train"));
  for (const i of [0, 2]) {
    await Deno.copyFile(
      join(synth.imageRoot, dataset.images.fileNames[i]),
      join(gone.imageRoot, dataset.images.fileNames[i]),
    );
  }
  const missing = join(gone.imageRoot, dataset.images.fileNames[1]);
  await assert.rejects(
    () => _collect(new BatchLoader({ dataset: gone, order: [0, 1, 2], batchSize: 3, workers: 1 })),
    (e: Error) => e instanceof InputError && e.message === `Cannot read image ${JSON.stringify(missing)}: no such file`,
  );
  // A wrong image root is named as a missing folder, not as an undecodable image.
  const nowhere = { ...dataset, imageRoot: join(gone.imageRoot, "no_such_root") };
  const nowherePath = join(nowhere.imageRoot, dataset.images.fileNames[0]);
  await assert.rejects(
    () => _collect(new BatchLoader({ dataset: nowhere, order: [0], batchSize: 1, workers: 0 })),
    (e: Error) =>
      e instanceof InputError && e.message === `Cannot read image ${JSON.stringify(nowherePath)}: no such file ` +
          `(its folder ${JSON.stringify(dirname(nowherePath))} does not exist)`,
  );
  const loader = new BatchLoader({ dataset: gone, order: [0, 1, 2], batchSize: 3, workers: 1, onBadImage: "skip" });
  const batches = await _collect(loader);
  assert.deepEqual(Array.from(batches[0].imageIndices), [0, 2]);
  assert.equal(loader.skipped, 1);
  const wrongSize = { ...gone, images: { ...gone.images, width: gone.images.width.map((w) => w + 1) } };
  await assert.rejects(
    () => _collect(new BatchLoader({ dataset: wrongSize, order: [0], batchSize: 1, workers: 0 })),
    /: the file is \d+x\d+ but the annotations say \d+x\d+$/,
  );
  await Deno.writeTextFile(missing, "not a png");
  await assert.rejects(
    () => _collect(new BatchLoader({ dataset: gone, order: [1], batchSize: 1, workers: 0 })),
    new RegExp(`Cannot decode image ${JSON.stringify(missing).replaceAll("/", "\\/")}: `),
  );
});

Deno.test("BatchLoader refuses an image smaller than the stride after resizing, or skips and counts it", async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const r = rng(5);
  const [w, h] = [400 + r.int(400), 10 + r.int(20)]; // a strip: max size 256 leaves it 2-8 px tall
  const strip = {
    ...dataset,
    images: {
      ...dataset.images,
      width: dataset.images.width.map((v, i) => i === 1 ? w : v),
      height: dataset.images.height.map((v, i) => i === 1 ? h : v),
    },
  };
  const augment = { shortSides: [64], maxSize: 256, flipProbability: 0 };
  const scale = Math.min(64 / h, 256 / w);
  const [ow, oh] = [Math.round(w * scale), Math.round(h * scale)];
  const path = join(dataset.imageRoot, dataset.images.fileNames[1]);
  await assert.rejects(
    () => _collect(new BatchLoader({ dataset: strip, order: [0, 1, 2], batchSize: 3, workers: 0, augment })),
    (e: Error) =>
      e instanceof InputError &&
      e.message === `Image ${JSON.stringify(path)} is ${w}x${h}, ${ow}x${oh} after resizing (short side 64, ` +
          `max 256): smaller than the network's stride 32`,
  );
  const loader = new BatchLoader({
    dataset: strip,
    order: [0, 1, 2],
    batchSize: 3,
    workers: 0,
    augment,
    onBadImage: "skip",
  });
  const batches = await _collect(loader);
  assert.deepEqual(Array.from(batches[0].imageIndices), [0, 2]);
  assert.equal(loader.skipped, 1);
});

Deno.test(`normalizeToChw() matches a float64 reference (seed ${SEED})`, () => {
  const r = rng(3);
  const width = 1 + r.int(20);
  const height = 1 + r.int(20);
  const rgb = Uint8Array.from({ length: width * height * 3 }, () => r.int(256));
  const norm = {
    mean: [r.uniform(0, 255), r.uniform(0, 255), r.uniform(0, 255)],
    std: [r.uniform(1, 80), r.uniform(1, 80), r.uniform(1, 80)],
  } as const;
  const out = new Float32Array(3 * width * height).fill(NaN);
  normalizeToChw({ width, height, rgb }, norm as never, out);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < width * height; i++) {
      const want = (rgb[3 * i + c] - norm.mean[c]) / norm.std[c];
      // float32 result of a float64 expression: within one float32 rounding (2^-24 relative) plus the reciprocal's.
      assert.ok(Math.abs(out[c * width * height + i] - want) <= 4e-7 * Math.max(1, Math.abs(want)));
    }
  }
});

Deno.test(`BatchLoader.batches() reuses its workers across epochs and repeats an epoch's seed exactly (seed ${SEED})`, async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const loader = new BatchLoader({ dataset, batchSize: 4, workers: 2, augment: { shortSides: [40, 64] } });
  const order = [5, 1, 4, 2, 3, 0].map((i) => i % dataset.images.count);
  const run = async (seed: number) => {
    const out: ImageBatch[] = [];
    for await (const b of loader.batches(order, seed)) out.push(b);
    return out;
  };
  const a = await run(SEED);
  const b = await run(SEED + 1);
  const c = await run(SEED);
  loader.close();
  assert.deepEqual(a.map((x) => Array.from(x.imageIndices)), [order.slice(0, 4), order.slice(4)]);
  assert.deepEqual(a.map((x) => x.images), c.map((x) => x.images));
  assert.notDeepEqual(a.map((x) => x.plans), b.map((x) => x.plans));
});

Deno.test(`decodeImage() reads JPEG and PNG to the same pixels up to JPEG loss (seed ${SEED})`, async () => {
  const r = rng(5);
  const w = 16 + r.int(40);
  const h = 16 + r.int(40);
  // Smooth content, so JPEG's loss is small.
  const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => 40 + ((Math.floor(i / 3) % w) * 3 + (i % 3) * 50) % 180);
  const dir = await Deno.makeTempDir();
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, "a.png"));
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
    .toFile(join(dir, "a.jpg"));
  const png = await decodeImage(join(dir, "a.png"));
  const jpg = await decodeImage(join(dir, "a.jpg"));
  assert.deepEqual(png.rgb, rgb);
  assert.deepEqual([jpg.width, jpg.height], [w, h]);
  let err = 0;
  for (let i = 0; i < rgb.length; i++) err += Math.abs(jpg.rgb[i] - rgb[i]);
  assert.ok(err / rgb.length < 3, `mean JPEG error ${err / rgb.length}`);
});

Deno.test("imagePath() resolves LVIS v1 COCO-URL names from a root inside either COCO split folder", () => {
  const ds = (root: string, name: string) =>
    ({ imageRoot: root, images: { fileNames: [name] } }) as unknown as Parameters<typeof imagePath>[0];
  assert.equal(imagePath(ds("/d/coco/val2017", "train2017/000000000009.jpg"), 0), "/d/coco/train2017/000000000009.jpg");
  assert.equal(
    imagePath(ds("/d/coco/train2017", "train2017/000000000009.jpg"), 0),
    "/d/coco/train2017/000000000009.jpg",
  );
  assert.equal(imagePath(ds("/d/coco", "val2017/000000000139.jpg"), 0), "/d/coco/val2017/000000000139.jpg");
  assert.equal(imagePath(ds("/d/synth", "train/000000000001.png"), 0), "/d/synth/train/000000000001.png");
  assert.equal(
    imagePath(ds("/d/v05/val2017", "COCO_val2014_000000000042.jpg"), 0),
    "/d/v05/val2017/COCO_val2014_000000000042.jpg",
  );
});

Deno.test("missing and undecodable images keep their own reasons while two workers fail side by side", async () => {
  const dir = await Deno.makeTempDir();
  const norm: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };
  const plan = { width: 8, height: 8, outWidth: 8, outHeight: 8, flip: false };
  const jobs: { path: string; missing: boolean }[] = [];
  for (let i = 0; i < 400; i++) {
    const path = join(dir, `${i}.png`);
    const missing = i % 2 === 0;
    if (!missing) await Deno.writeTextFile(path, `not a png ${i}`);
    jobs.push({ path, missing });
  }
  const pool = new DecodePool(2);
  try {
    const outcomes = await Promise.allSettled(jobs.map((j) => pool.run({ path: j.path, plan, normalization: norm })));
    outcomes.forEach((o, i) => {
      assert.equal(o.status, "rejected", `job ${i} decoded`);
      const message = ((o as PromiseRejectedResult).reason as Error).message;
      const prefix = `Cannot ${jobs[i].missing ? "read" : "decode"} image ${JSON.stringify(jobs[i].path)}: `;
      assert.ok(message.startsWith(prefix), message);
      if (jobs[i].missing) assert.equal(message, `${prefix}no such file`);
      else assert.match(message, /unsupported image format/);
    });
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});
