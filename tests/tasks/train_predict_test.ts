/**
 * The train and predict stages end to end on the CI synthetic set, for a
 * loss with the background channel (C+1 logit columns) and one without (C):
 * predict rebuilds the model from the train stage's folder alone and writes
 * valid LVIS results, the very detections that the trained model gives in
 * memory on the same images, with masks: each segmentation is the trained
 * model's mask probabilities pasted into the original image, inside its box.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest, SEED } from "../_util.ts";
import { generateSynthetic } from "../../data/synth/generate.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { BatchLoader } from "../../data/image/batch_loader.ts";
import { createLoss } from "../../losses/mod.ts";
import { detectorConfig } from "../../model/config.ts";
import { trainDetector } from "../../model/trainer.ts";
import { toTrainingBatch, trainingData } from "../../model/training_data.ts";
import { directContext } from "../../pipeline/stage.ts";
import { type TrainParams, trainParams, trainStage } from "../../tasks/train.ts";
import { predictParams, predictStage } from "../../tasks/predict.ts";
import { tidyAsync } from "../../tensor/tensor.ts";
import { pasteMasks } from "../../model/masks/paste_masks.ts";
import { maskToSegmentation } from "../../eval/rle_encode.ts";
import { decodeRle, rleArea, rleToBbox } from "../../eval/rle.ts";
import type { ResizePlan } from "../../data/image/resize_plan.ts";

type PredictParams = ReturnType<typeof predictParams.parse>;

interface Row {
  image_id: number;
  category_id: number;
  bbox: number[];
  score: number;
  segmentation: { size: [number, number]; counts: string };
}

/** A memory row: its mask pasted from the model's probabilities, and from poisoned ones (1 - p). */
interface MemoryRow extends Row {
  poisoned: string;
}

const f = Math.fround;

/** Detection k's mask pasted into the original image from `probs` [n, M, M], as torchvision's postprocess does. */
function pasted(probs: Float32Array, box: ArrayLike<number>, plan: ResizePlan, threshold: number): string {
  const rx = f(f(plan.width) / f(plan.outWidth)), ry = f(f(plan.height) / f(plan.outHeight));
  const scaled = Array.from(box, (v, j) => f(v * (j % 2 ? ry : rx)));
  const [m] = pasteMasks(probs, scaled, { imageHeight: plan.height, imageWidth: plan.width, threshold });
  return maskToSegmentation(m).counts;
}

/**
 * Train in memory exactly as the train stage did (its parameters, the loss parameters it
 * recorded), then run the trained Detector over predict's images as predict does (its resizing,
 * batches and score threshold) and map its detections to LVIS rows with the training set's
 * category ids.
 */
async function inMemoryRows(
  p: TrainParams,
  lossParams: unknown,
  pp: PredictParams,
  workDir: string,
): Promise<MemoryRow[]> {
  const { dataset } = await ingestDataset(p.dataset, { cache: false, masks: true });
  const loss = createLoss(p.loss, lossParams, { numClasses: dataset.categories.count });
  const config = detectorConfig(p.model, p.modelOverrides as never);
  config.test.scoreThreshold = pp.scoreThreshold ?? config.test.scoreThreshold;
  const trained = await trainDetector({
    config,
    loss,
    data: trainingData({
      dataset,
      seed: p.seed,
      repeatThreshold: p.repeatFactor,
      augment: { shortSides: p.shortSides, maxSize: p.maxSize, flipProbability: p.flipProbability },
      workers: p.workers,
      masks: true,
    }),
    outDir: workDir,
    iterations: p.iterations,
    batchSize: p.batchSize,
    lr: p.lr,
    momentum: p.momentum,
    weightDecay: p.weightDecay,
    clipNorm: p.clipNorm,
    seed: p.seed,
    checkpointEvery: p.checkpointEvery,
    statsEvery: p.statsEvery,
  });
  const val = (await ingestDataset(pp.dataset, { cache: false, polygons: false })).dataset;
  const rows: MemoryRow[] = [];
  const threshold = config.maskHead!.threshold;
  const loader = new BatchLoader({
    dataset: val,
    order: Array.from({ length: val.images.count }, (_, i) => i),
    batchSize: pp.batchSize,
    // Without a size of its own, predict takes the one the model was trained at.
    augment: {
      shortSides: [pp.shortSide ?? Math.max(...p.shortSides)],
      maxSize: pp.maxSize ?? p.maxSize,
      flipProbability: 0,
    },
    workers: 0,
  });
  for await (const lb of loader) {
    const dets = await tidyAsync(() => trained.detector.predict(toTrainingBatch(lb).batch, loss));
    dets.forEach((d, b) => {
      const plan = lb.plans[b], sx = plan.width / plan.outWidth, sy = plan.height / plan.outHeight;
      const M = d.maskSize!, probs = d.masks!;
      for (let k = 0; k < d.scores.length; k++) {
        const [x1, y1, x2, y2] = [0, 1, 2, 3].map((j) => d.boxes[4 * k + j] * (j % 2 ? sy : sx));
        const own = probs.slice(k * M * M, (k + 1) * M * M), box = d.boxes.subarray(4 * k, 4 * k + 4);
        rows.push({
          image_id: val.images.ids[lb.imageIndices[b]],
          category_id: dataset.categories.ids[d.labels[k]],
          bbox: [x1, y1, x2 - x1, y2 - y1],
          score: d.scores[k],
          segmentation: { size: [plan.height, plan.width], counts: pasted(own, box, plan, threshold) },
          poisoned: pasted(own.map((v) => 1 - v), box, plan, threshold),
        });
      }
    });
  }
  trained.detector.params.dispose();
  loss.dispose();
  return rows;
}

const dir = await Deno.makeTempDir({ prefix: "tailor_stages_" });
const synth = generateSynthetic({ outDir: join(dir, "data"), preset: "ci", seed: SEED % 1000 });

for (const loss of ["eql", "eqlv2"]) {
  gpuTest(`train then predict with ${loss} writes valid LVIS results, the trained model's own detections`, async () => {
    const s = await synth;
    const modelDir = join(dir, `model_${loss}`), predDir = join(dir, `pred_${loss}`);
    await Deno.mkdir(modelDir);
    await Deno.mkdir(predDir);
    const tp = trainParams.parse({
      dataset: s.trainJson,
      model: "tiny",
      modelOverrides: {
        roi: { samplingRatio: 2, batchPerImage: 16, positiveFraction: 0.25, fgIou: 0.5 },
        boxHead: { poolSize: 4, fcDim: 32 },
      },
      loss,
      iterations: 2,
      batchSize: 2,
      shortSides: [64],
      workers: 0,
    });
    const trained = await trainStage.run(tp, directContext(modelDir));
    assert.equal(trained.steps, 2);
    const card = JSON.parse(await Deno.readTextFile(join(modelDir, "model.json")));
    assert.equal(card.training.masks, true, "the mask head was trained");
    assert.ok(card.training.lastLoss.mask > 0, `the card records the mask loss: ${JSON.stringify(card.training)}`);
    const log = (await Deno.readTextFile(trained.trainLog)).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(log.every((l) => l.loss.mask > 0 && l.maskRois >= 0), "the train log records the mask loss");
    if (loss === "eql") {
      assert.ok(Array.isArray(card.lossParams.image_counts), "EQL's frequencies are saved with the model");
    }
    const pp = predictParams.parse({
      model: modelDir,
      dataset: s.valJson,
      // eqlv2 names no size: the model's own 64 from its model.json, not predict's 128.
      ...(loss === "eql" ? { shortSide: 64 } : {}),
      scoreThreshold: 0,
      workers: 0,
    });
    const out = await predictStage.run(pp, directContext(predDir));
    const results = JSON.parse(await Deno.readTextFile(out.results));
    const gt = JSON.parse(await Deno.readTextFile(s.valJson));
    const imageIds = new Set(gt.images.map((i: { id: number }) => i.id));
    const catIds = new Set(gt.categories.map((c: { id: number }) => c.id));
    assert.ok(results.length > 0, "no detections");
    assert.equal(out.detections, results.length);
    const perImage = new Map<number, number>();
    for (const r of results) {
      assert.ok(imageIds.has(r.image_id), `unknown image ${r.image_id}`);
      assert.ok(catIds.has(r.category_id), `unknown category ${r.category_id}`);
      assert.ok(r.score >= 0 && r.score <= 1, `score ${r.score}`);
      assert.equal(r.bbox.length, 4);
      assert.ok(r.bbox.every(Number.isFinite) && r.bbox[2] >= 0 && r.bbox[3] >= 0, `bbox ${r.bbox}`);
      perImage.set(r.image_id, (perImage.get(r.image_id) ?? 0) + 1);
    }
    assert.ok(Math.max(...perImage.values()) <= 300, "more than 300 detections on an image");
    // The same detections as the trained model's in memory: predict loses nothing in the model folder
    // (weights, loss, configuration, category ids) and maps boxes back as the detector meant them.
    const want = await inMemoryRows(tp, card.lossParams, pp, join(dir, `memory_${loss}`));
    assert.equal(results.length, want.length, "number of detections");
    results.forEach((got: Row, i: number) => {
      const w = want[i], what = `detection ${i} (image ${w.image_id})`;
      assert.equal(got.image_id, w.image_id, what);
      assert.equal(got.category_id, w.category_id, what);
      // predict writes boxes to 2 decimals and scores to 6.
      got.bbox.forEach((v, j) => assert.ok(Math.abs(v - w.bbox[j]) <= 0.005 + 1e-9, `${what} bbox ${got.bbox}`));
      assert.ok(Math.abs(got.score - w.score) <= 5e-7 + 1e-12, `${what} score ${got.score} vs ${w.score}`);
      assert.deepEqual(got.segmentation, w.segmentation, `${what} mask`);
    });
    // The comparison sees the probabilities: pasting 1 - p gives other masks.
    assert.ok(want.some((w, i) => w.poisoned !== results[i].segmentation.counts), "poisoned masks went unnoticed");
    // Every mask lies in its box, widened as the paste widens it (one pixel of the M x M map each side).
    let nonEmpty = 0;
    results.forEach((r: Row, i: number) => {
      const rle = decodeRle(r.segmentation);
      if (rleArea(rle) === 0) return;
      nonEmpty++;
      const [x, y, w, h] = r.bbox, [mx, my, mw, mh] = rleToBbox(rle), M = 14, padX = w / M + 1, padY = h / M + 1;
      const inside = mx >= x - padX && my >= y - padY && mx + mw <= x + w + padX && my + mh <= y + h + padY;
      assert.ok(inside, `detection ${i}: mask [${mx}, ${my}, ${mw}, ${mh}] outside box [${r.bbox}]`);
    });
    assert.ok(nonEmpty > 0, "every mask is empty");
  });
}

gpuTest(
  "train on annotations lacking masks: their RoIs get no mask loss; with none at all, no masks are predicted",
  async () => {
    const s = await synth;
    const gt = JSON.parse(await Deno.readTextFile(s.trainJson));
    const logs: string[] = [];
    const ctx = (out: string) => ({ ...directContext(out), log: (l: string) => logs.push(l) });
    for (const strip of ["some", "all"] as const) {
      const anns = gt.annotations.map((a: Record<string, unknown>, i: number) => {
        if (strip === "all" || i % 3 === 0) {
          const { segmentation: _, ...rest } = a;
          return rest;
        }
        return a;
      });
      const stripped = anns.filter((a: Record<string, unknown>) => !a.segmentation && !a.iscrowd).length;
      const counted = anns.filter((a: Record<string, unknown>) => !a.iscrowd).length;
      const file = join(dir, `train_${strip}.json`);
      await Deno.writeTextFile(file, JSON.stringify({ ...gt, annotations: anns }));
      const modelDir = join(dir, `model_nomask_${strip}`);
      await Deno.mkdir(modelDir);
      logs.length = 0;
      const tp = trainParams.parse({
        dataset: file,
        imageRoot: s.imageRoot,
        model: "tiny",
        modelOverrides: { roi: { batchPerImage: 16 }, boxHead: { poolSize: 4, fcDim: 32 } },
        loss: "bce",
        iterations: 2,
        batchSize: 2,
        shortSides: [64],
        workers: 0,
      });
      await trainStage.run(tp, ctx(modelDir));
      const card = JSON.parse(await Deno.readTextFile(join(modelDir, "model.json")));
      assert.equal(card.training.annotationsWithoutMask, stripped, strip);
      if (strip === "some") {
        assert.ok(logs.some((l) => l.includes(`${stripped} of ${counted} training annotations have no mask`)));
        assert.equal(card.training.masks, true);
        assert.ok(card.training.lastLoss.mask > 0);
        continue;
      }
      assert.ok(logs.some((l) => l.includes("no training annotation has a mask")), logs.join("\n"));
      assert.equal(card.training.masks, false);
      assert.equal(card.training.lastLoss.mask, undefined, "no mask loss without masks");
      const predDir = join(dir, "pred_nomask");
      await Deno.mkdir(predDir);
      const pp = predictParams.parse({
        model: modelDir,
        dataset: s.valJson,
        shortSide: 64,
        scoreThreshold: 0,
        workers: 0,
      });
      const rows = JSON.parse(await Deno.readTextFile((await predictStage.run(pp, directContext(predDir))).results));
      assert.ok(
        rows.length > 0 && rows.every((r: Row) => !("segmentation" in r)),
        "an untrained mask head predicts nothing",
      );
    }
  },
);
