/**
 * The `predict` stage: run a trained detector over a dataset's images and
 * write an LVIS results file (boxes in the original image coordinates,
 * test-time scores with the background channel for EQL v2, class-wise NMS,
 * top-k per image).
 */
import { join } from "node:path";
import { z } from "zod";
import { inputFile, inputFolder } from "../pipeline/input_path.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { predictDataset } from "../model/predict_dataset.ts";
import { loadTrainedModel } from "../model/trained_model.ts";
import { shardRange } from "../pipeline/sharding.ts";
import { defineStage } from "../pipeline/stage.ts";
import { type CompileWatch, ingestProgress, watchCompiles } from "./_compile_progress.ts";
import { initTensors } from "../tensor/tensor.ts";

export const predictParams = z.strictObject({
  /** The train stage's model folder (model.json + weights.safetensors). */
  model: inputFolder(),
  /** LVIS-format annotations of the images to run on (e.g. the val split). */
  dataset: inputFile(),
  imageRoot: inputFolder().optional(),
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
    let compiles: CompileWatch | undefined;
    try {
      const { dataset } = await ingestDataset(p.dataset, {
        imageRoot: p.imageRoot,
        polygons: false,
        onProgress: ingestProgress(ctx),
      });
      // A part takes a contiguous slice cut at whole batches: every image is padded with the same batch-mates.
      const [start, end] = ctx.shard
        ? shardRange(dataset.images.count, ctx.shard, p.batchSize, `images in ${JSON.stringify(p.dataset)}`)
        : [0, dataset.images.count];
      const images = Array.from({ length: end - start }, (_, i) => start + i);
      const watch = compiles = await watchCompiles(ctx, {
        predict: model.config,
        loss: model.card.loss,
        batch: p.batchSize,
      });
      const results = await predictDataset(model, dataset, {
        images,
        batchSize: p.batchSize,
        shortSide: p.shortSide,
        maxSize: p.maxSize,
        workers: p.workers,
        onProgress: (done, total) => {
          // The first batch compiles the kernels; its end is the end of that phase.
          watch.done().catch(() => {});
          ctx.progress(done, total, "images", "predict");
        },
      });
      const out = join(ctx.outDir, "results.json");
      await writeJsonAtomic(out, results);
      ctx.log(`${results.length} detections on ${images.length} images`);
      return { results: out, images: images.length, detections: results.length };
    } finally {
      compiles?.stop();
      model.dispose();
    }
  },
});
