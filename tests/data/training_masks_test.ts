import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { BatchLoader, type ImageBatch } from "../../data/image/batch_loader.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { nearestIndex, resizeMaskNearest } from "../../data/masks/resize_mask.ts";
import { forEachPixelInPolygon } from "../../data/synth/raster.ts";
import { encodeMask, rleToMask } from "../../eval/rle_encode.ts";
import { MASK_FIXTURES, rleOf } from "../model/_mask_fixtures.ts";
import { rng, SEED } from "./_fixtures.ts";

const RAW = { mean: [0, 0, 0] as const, std: [1, 1, 1] as const };

Deno.test("resizeMaskNearest() resizes as torchvision 0.14's GeneralizedRCNNTransform resizes masks", () => {
  assert.ok(MASK_FIXTURES.resize.length >= 5);
  for (const [i, c] of MASK_FIXTURES.resize.entries()) {
    c.masks.forEach((runs, k) => {
      const got = resizeMaskNearest(rleOf(c.height, c.width, runs), c.outHeight, c.outWidth);
      assert.deepEqual(Array.from(got.counts), c.resized[k], `case ${i} mask ${k}`);
      assert.deepEqual([got.h, got.w], [c.outHeight, c.outWidth]);
    });
  }
});

Deno.test(`resizeMaskNearest() flips before it resizes, as the reference transforms do (seed ${SEED})`, () => {
  const r = rng(41);
  for (let trial = 0; trial < 20; trial++) {
    const h = 1 + r.int(30), w = 1 + r.int(30), oh = 1 + r.int(60), ow = 1 + r.int(60);
    const bits = new Uint8Array(h * w).map(() => (r.float() < 0.5 ? 1 : 0));
    const mirrored = new Uint8Array(h * w);
    for (let x = 0; x < w; x++) mirrored.set(bits.subarray((w - 1 - x) * h, (w - x) * h), x * h);
    const whole = (b: Uint8Array) =>
      encodeMask({ height: h, width: w, x: 0, y: 0, cropWidth: w, cropHeight: h, bits: b });
    const flipped = resizeMaskNearest(whole(bits), oh, ow, { flip: true });
    assert.deepEqual(flipped, resizeMaskNearest(whole(mirrored), oh, ow), `trial ${trial}`);
    const out = rleToMask(flipped);
    for (let x = 0; x < ow; x++) {
      for (let y = 0; y < oh; y++) {
        const sx = w - 1 - nearestIndex(x, w, ow), sy = nearestIndex(y, h, oh);
        assert.equal(out[x * oh + y], bits[sx * h + sy]);
      }
    }
  }
});

/** Images with one red shape each on black; the annotation is the shape as a polygon, or as an RLE of its pixels. */
async function redShapes(r: ReturnType<typeof rng>) {
  const dir = await Deno.makeTempDir();
  const images = [], annotations = [];
  for (let i = 0; i < 4; i++) {
    const w = 60 + r.int(60), h = 50 + r.int(60);
    const poly = [0.1, 0.15, 0.75, 0.2, 0.85, 0.85, 0.2, 0.6].map((v, k) =>
      Math.round((v + 0.05 * r.float()) * (k % 2 ? h : w) * 100) / 100
    );
    const rgb = new Uint8Array(w * h * 3);
    const bits = new Uint8Array(w * h);
    forEachPixelInPolygon(poly, w, h, (p, x, y) => {
      rgb.set([250, 10, 10], 3 * p);
      bits[x * h + y] = 1;
    });
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, `${i}.png`));
    const xs = poly.filter((_, k) => k % 2 === 0), ys = poly.filter((_, k) => k % 2 === 1);
    const bbox = [
      Math.min(...xs),
      Math.min(...ys),
      Math.max(...xs) - Math.min(...xs),
      Math.max(...ys) - Math.min(...ys),
    ];
    const rle = encodeMask({ height: h, width: w, x: 0, y: 0, cropWidth: w, cropHeight: h, bits });
    // Odd images carry the shape as an uncompressed RLE, as COCO-style files may.
    const segmentation = i % 2 ? { size: [h, w], counts: Array.from(rle.counts) } : [poly];
    images.push({ id: i + 1, width: w, height: h, file_name: `${i}.png` });
    annotations.push({ id: i + 1, image_id: i + 1, category_id: 1, bbox, area: 1, segmentation });
  }
  const file = join(dir, "gt.json");
  await Deno.writeTextFile(file, JSON.stringify({ images, annotations, categories: [{ id: 1, name: "q" }] }));
  return file;
}

async function collect(loader: BatchLoader): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

Deno.test(`BatchLoader's masks move with the resized, flipped pixels, from polygons and RLE (seed ${SEED})`, async () => {
  const r = rng(42);
  const { dataset } = await ingestDataset(await redShapes(r), { cache: false });
  for (const flipProbability of [0, 1]) {
    const shortSides = [40 + r.int(40), 100 + r.int(60)];
    const augment = { shortSides, maxSize: 400, flipProbability, normalization: RAW, sizeDivisor: 16 };
    const loader = new BatchLoader({
      dataset,
      order: [0, 1, 2, 3],
      batchSize: 2,
      workers: 1,
      seed: SEED,
      augment,
      masks: true,
    });
    for (const b of await collect(loader)) {
      assert.equal(b.masks!.length, b.batch);
      b.plans.forEach((plan, k) => {
        const masks = b.masks![k];
        assert.deepEqual([masks.height, masks.width, masks.rles.length], [plan.outHeight, plan.outWidth, 1]);
        const bits = rleToMask(masks.rles[0]);
        const plane = b.height * b.width;
        let maskPixels = 0, redInMask = 0, red = 0;
        for (let y = 0; y < plan.outHeight; y++) {
          for (let x = 0; x < plan.outWidth; x++) {
            const isRed = b.images[k * 3 * plane + y * b.width + x] > 128;
            const inMask = bits[x * plan.outHeight + y] === 1;
            red += isRed ? 1 : 0;
            maskPixels += inMask ? 1 : 0;
            redInMask += isRed && inMask ? 1 : 0;
          }
        }
        const what = `image ${
          b.imageIndices[k]
        } flip ${plan.flip} ${plan.width}x${plan.height} -> ${plan.outWidth}x${plan.outHeight}`;
        assert.ok(redInMask >= 0.9 * maskPixels, `${what}: ${redInMask} of ${maskPixels} mask pixels are red`);
        assert.ok(redInMask >= 0.9 * red, `${what}: ${redInMask} of ${red} red pixels are in the mask`);
        // The box and the mask's extent agree (to a pixel and a half of interpolation).
        const [x1, y1, x2, y2] = b.boxes[k];
        let minX = Infinity, maxX = -Infinity;
        for (let x = 0; x < plan.outWidth; x++) {
          if (bits.subarray(x * plan.outHeight, (x + 1) * plan.outHeight).includes(1)) {
            minX = Math.min(minX, x);
            maxX = Math.max(maxX, x + 1);
          }
        }
        const slack = 1.5 * plan.outWidth / plan.width + 1;
        assert.ok(
          Math.abs(minX - x1) <= slack && Math.abs(maxX - x2) <= slack,
          `${what}: box ${[x1, x2]} mask ${[minX, maxX]}`,
        );
        assert.ok(y2 > y1);
      });
    }
  }
});

Deno.test("BatchLoader gives masks only when asked, and refuses a dataset loaded without them", async () => {
  const file = await redShapes(rng(43));
  const { dataset } = await ingestDataset(file, { cache: false });
  const plain = await collect(new BatchLoader({ dataset, order: [0, 1], batchSize: 2, workers: 0 }));
  assert.equal(plain[0].masks, undefined);
  const { dataset: boxesOnly } = await ingestDataset(file, { cache: false, masks: false });
  assert.throws(
    () => new BatchLoader({ dataset: boxesOnly, order: [0], batchSize: 1, workers: 0, masks: true }),
    /Masks were asked for, but ".*gt\.json" was loaded without them/,
  );
});
