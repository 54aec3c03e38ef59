/**
 * The train and predict stages end to end on the CI synthetic set, for a
 * loss with the background channel (C+1 logit columns) and one without (C):
 * predict rebuilds the model from the train stage's folder alone and writes
 * valid LVIS results, the very detections that the trained model gives in
 * memory on the same images.
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

type PredictParams = ReturnType<typeof predictParams.parse>;

interface Row {
  image_id: number;
  category_id: number;
  bbox: number[];
  score: number;
}

/**
 * Train in memory exactly as the train stage did (its parameters, the loss parameters it
 * recorded), then run the trained Detector over predict's images as predict does (its resizing,
 * batches and score threshold) and map its detections to LVIS rows with the training set's
 * category ids.
 */
async function inMemoryRows(p: TrainParams, lossParams: unknown, pp: PredictParams, workDir: string): Promise<Row[]> {
  const { dataset } = await ingestDataset(p.dataset, { cache: false, polygons: false });
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
  const rows: Row[] = [];
  const loader = new BatchLoader({
    dataset: val,
    order: Array.from({ length: val.images.count }, (_, i) => i),
    batchSize: pp.batchSize,
    augment: { shortSides: [pp.shortSide], maxSize: pp.maxSize, flipProbability: 0 },
    workers: 0,
  });
  for await (const lb of loader) {
    const dets = await tidyAsync(() => trained.detector.predict(toTrainingBatch(lb).batch, loss));
    dets.forEach((d, b) => {
      const plan = lb.plans[b], sx = plan.width / plan.outWidth, sy = plan.height / plan.outHeight;
      for (let k = 0; k < d.scores.length; k++) {
        const [x1, y1, x2, y2] = [0, 1, 2, 3].map((j) => d.boxes[4 * k + j] * (j % 2 ? sy : sx));
        rows.push({
          image_id: val.images.ids[lb.imageIndices[b]],
          category_id: dataset.categories.ids[d.labels[k]],
          bbox: [x1, y1, x2 - x1, y2 - y1],
          score: d.scores[k],
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
    if (loss === "eql") {
      assert.ok(Array.isArray(card.lossParams.image_counts), "EQL's frequencies are saved with the model");
    }
    const pp = predictParams.parse({
      model: modelDir,
      dataset: s.valJson,
      shortSide: 64,
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
    });
  });
}
