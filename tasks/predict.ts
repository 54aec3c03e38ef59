/**
 * The `predict` stage: run a trained detector over a dataset's images and
 * write an LVIS results file (boxes in the original image coordinates,
 * test-time scores with the background channel for EQL v2, class-wise NMS,
 * top-k per image).
 */
import { join } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { Rng } from "../core/rng.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { BatchLoader } from "../data/image/batch_loader.ts";
import { createLoss } from "../losses/registry.ts";
import type { LossState } from "../losses/loss.ts";
import { DetectorConfig } from "../model/config.ts";
import { Detector } from "../model/detector.ts";
import { readSafetensors } from "../model/safetensors.ts";
import { loadWeights } from "../model/trainer.ts";
import { toTrainingBatch } from "../model/training_data.ts";
import { shardRange } from "../pipeline/sharding.ts";
import { defineStage } from "../pipeline/stage.ts";
import { initTensors, tidyAsync } from "../tensor/tensor.ts";
import type { ModelCard } from "./train.ts";

export const predictParams = z.strictObject({
  /** The train stage's model folder (model.json + weights.safetensors). */
  model: z.string(),
  /** LVIS-format annotations of the images to run on (e.g. the val split). */
  dataset: z.string(),
  imageRoot: z.string().optional(),
  batchSize: z.int().positive().default(4),
  shortSide: z.int().positive().default(128),
  maxSize: z.int().positive().default(1333),
  scoreThreshold: z.number().min(0).max(1).optional(),
  detectionsPerImage: z.int().positive().optional(),
  workers: z.int().nonnegative().optional(),
});

export const predictOutput = z.object({ results: z.string(), images: z.int(), detections: z.int() });

/** One detection in the LVIS results format. */
export interface LvisResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

export const predictStage = defineStage({
  kind: "predict",
  description: "Run a trained detector over a dataset and write LVIS results",
  params: predictParams,
  output: predictOutput,
  sharding: { part: "predict-part", merge: "predict-merge" },
  async run(p, ctx) {
    await initTensors();
    let card: ModelCard;
    const cardPath = join(p.model, "model.json");
    try {
      card = JSON.parse(await Deno.readTextFile(cardPath));
    } catch (e) {
      throw new InputError(`Cannot read "${cardPath}": ${(e as Error).message}`);
    }
    const config = DetectorConfig.parse({
      ...card.config,
      test: {
        ...card.config.test,
        ...(p.scoreThreshold !== undefined ? { scoreThreshold: p.scoreThreshold } : {}),
        ...(p.detectionsPerImage !== undefined ? { detectionsPerImage: p.detectionsPerImage } : {}),
      },
    });
    const { dataset } = await ingestDataset(p.dataset, { imageRoot: p.imageRoot, polygons: false });
    const loss = createLoss(card.loss, card.lossParams, { numClasses: card.numClasses });
    loss.loadState(card.lossState as LossState);
    const det = new Detector(config, card.numClasses, loss.columns, new Rng(1));
    det.build();
    const weightsPath = join(p.model, "weights.safetensors");
    loadWeights(det, (await readSafetensors(weightsPath)).tensors, { source: weightsPath, strict: true });

    // A part takes a contiguous slice cut at whole batches: every image is padded with the same batch-mates.
    const [start, end] = ctx.shard
      ? shardRange(dataset.images.count, ctx.shard, p.batchSize, `images in ${JSON.stringify(p.dataset)}`)
      : [0, dataset.images.count];
    const order = Array.from({ length: end - start }, (_, i) => start + i);
    const loader = new BatchLoader({
      dataset,
      order,
      batchSize: p.batchSize,
      augment: { shortSides: [p.shortSide], maxSize: p.maxSize, flipProbability: 0 },
      workers: p.workers,
    });
    const results: LvisResult[] = [];
    let done = 0;
    for await (const lb of loader) {
      const { batch } = toTrainingBatch(lb);
      const dets = await tidyAsync(() => det.predict(batch, loss));
      dets.forEach((d, b) => {
        const plan = lb.plans[b];
        const sx = plan.width / plan.outWidth, sy = plan.height / plan.outHeight;
        const imageId = dataset.images.ids[lb.imageIndices[b]];
        for (let k = 0; k < d.scores.length; k++) {
          const x1 = d.boxes[4 * k] * sx, y1 = d.boxes[4 * k + 1] * sy;
          const x2 = d.boxes[4 * k + 2] * sx, y2 = d.boxes[4 * k + 3] * sy;
          results.push({
            image_id: imageId,
            category_id: card.categoryIds[d.labels[k]],
            bbox: [round(x1), round(y1), round(x2 - x1), round(y2 - y1)],
            score: round(d.scores[k], 6),
          });
        }
      });
      done += lb.batch;
      ctx.progress(done, order.length, "images");
    }
    const out = join(ctx.outDir, "results.json");
    await writeJsonAtomic(out, results);
    ctx.log(`${results.length} detections on ${done} images`);
    loss.dispose();
    det.params.dispose();
    return { results: out, images: done, detections: results.length };
  },
});

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
