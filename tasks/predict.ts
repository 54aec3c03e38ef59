/**
 * The `predict` stage: run a trained detector over a dataset's images and
 * write an LVIS results file (boxes in the original image coordinates,
 * test-time scores with the background channel for EQL v2, class-wise NMS,
 * top-k per image).
 */
import { join } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../core/atomic.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { BatchLoader } from "../data/image/batch_loader.ts";
import { type LvisResult, resultRows } from "../model/result_rows.ts";
import { loadTrainedModel } from "../model/trained_model.ts";
import { toTrainingBatch } from "../model/training_data.ts";
import { shardRange } from "../pipeline/sharding.ts";
import { defineStage } from "../pipeline/stage.ts";
import { initTensors, tidyAsync } from "../tensor/tensor.ts";

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

export const predictStage = defineStage({
  kind: "predict",
  description: "Run a trained detector over a dataset and write LVIS results",
  params: predictParams,
  output: predictOutput,
  sharding: { part: "predict-part", merge: "predict-merge" },
  async run(p, ctx) {
    await initTensors();
    const model = await loadTrainedModel(p.model, {
      test: { scoreThreshold: p.scoreThreshold, detectionsPerImage: p.detectionsPerImage },
    });
    try {
      const { dataset } = await ingestDataset(p.dataset, { imageRoot: p.imageRoot, polygons: false });
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
        const dets = await tidyAsync(() => model.detector.predict(batch, model.loss));
        dets.forEach((d, b) => {
          const imageId = dataset.images.ids[lb.imageIndices[b]];
          results.push(...resultRows(d, { imageId, size: lb.plans[b], categoryIds: model.card.categoryIds }));
        });
        done += lb.batch;
        ctx.progress(done, order.length, "images");
      }
      const out = join(ctx.outDir, "results.json");
      await writeJsonAtomic(out, results);
      ctx.log(`${results.length} detections on ${done} images`);
      return { results: out, images: done, detections: results.length };
    } finally {
      model.dispose();
    }
  },
});
