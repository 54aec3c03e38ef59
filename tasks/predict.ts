/** The `predict` stage: an LVIS results file (original image coordinates; masks as RLE with a mask head). */
import { join } from "node:path";
import { z } from "zod";
import { inputFile, inputFolder } from "../pipeline/input_path.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { predictDataset } from "../model/predict_dataset.ts";
import { loadTrainedModel } from "../model/trained_model.ts";
import { predictionInput } from "../model/model_card.ts";
import { shardRange } from "../pipeline/sharding.ts";
import { defineStage } from "../pipeline/stage.ts";
import { type CompileWatch, ingestProgress, watchCompiles } from "./_compile_progress.ts";
import { initTensors } from "../tensor/tensor.ts";

export const predictParams = z.strictObject({
  model: inputFolder(),
  dataset: inputFile(),
  imageRoot: inputFolder().optional(),
  batchSize: z.int().positive().default(4),
  /** Default: the size the model was trained at (the largest of its `shortSides`, from its model.json), else 128. */
  shortSide: z.int().positive().optional(),
  /** Default: the model's, else 1333. */
  maxSize: z.int().positive().optional(),
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
      // Cut at whole batches: every image is padded with the same batch-mates.
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
        ...predictionInput(model.card, p.shortSide, p.maxSize),
        workers: p.workers,
        onProgress: (done, total) => {
          watch.done().catch(() => {});
          ctx.progress(done, total, "images", "predict");
        },
      });
      const out = join(ctx.outDir, "results.json");
      await writeJsonAtomic(out, results);
      const masks = results.length > 0 && results[0].segmentation ? " with masks" : "";
      ctx.log(`${results.length} detections${masks} on ${images.length} images`);
      return { results: out, images: images.length, detections: results.length };
    } finally {
      compiles?.stop();
      model.dispose();
    }
  },
});
