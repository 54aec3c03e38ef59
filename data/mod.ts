/**
 * Data for tailor: the columnar {@link Dataset}, LVIS/COCO ingestion (streaming, validated, cached), the
 * long-tailed synthetic dataset, batches decoded in workers, and sampling.
 *
 * @example
 * ```ts
 * import { BatchLoader, generateSynthetic, ingestDataset, RepeatFactorSampler } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const synth = await generateSynthetic({ outDir: dir, preset: "ci" });
 * const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
 * const sampler = new RepeatFactorSampler({ dataset, threshold: 0.01, seed: 1 });
 * const loader = new BatchLoader({ dataset, order: sampler.epoch(0), batchSize: 8, augment: { shortSides: [64] } });
 * for await (const batch of loader) console.log(batch.batch, batch.height, batch.width, batch.labels[0]);
 * ```
 * @module
 */
export {
  type Dataset,
  type DatasetAnnotations,
  type DatasetCategories,
  type DatasetImages,
  FREQUENCIES,
  type Frequency,
  frequencyOfImageCount,
} from "./dataset.ts";
export { imagePath } from "./image_path.ts";
export { readDatasetCache, writeDatasetCache } from "./dataset_cache.ts";
export { annotationMask, annotationPolygons, emptyMask } from "./masks/annotation_mask.ts";
export { nearestIndex, resizeMaskNearest } from "./masks/resize_mask.ts";
export { type InstanceMasks, trainingMasks } from "./masks/training_masks.ts";
export { ingestDataset, type IngestOptions, type IngestResult } from "./ingest_dataset.ts";
export { type IngestIssues, summarizeIssues } from "./ingest/issues.ts";
export { categoryFrequencies, frequencyGroupCounts } from "./category_stats.ts";
export { generateSynthetic, type SynthOptions, type SynthResult } from "./synth/generate.ts";
export { SYNTH_PRESETS, type SynthPreset, type SynthSettings } from "./synth/presets.ts";
export { MAX_SYNTH_CATEGORIES } from "./synth/catalog.ts";
export { type LvisLikeOptions, writeLvisLikeFile } from "./synth/lvis_like_file.ts";
export {
  decodeImage,
  IMAGENET_NORMALIZATION,
  type Normalization,
  normalizeToChw,
  type RgbImage,
} from "./image/decode_image.ts";
export { planResize, type ResizePlan, transformBoxes, transformPolygon } from "./image/resize_plan.ts";
export {
  type AugmentOptions,
  BatchLoader,
  type BatchLoaderOptions,
  DEFAULT_AUGMENT,
  type ImageBatch,
} from "./image/batch_loader.ts";
export { type RepeatFactorOptions, repeatFactors, RepeatFactorSampler } from "./repeat_factor_sampler.ts";
export { type ClassAwareOptions, ClassAwareSampler } from "./class_aware_sampler.ts";
export { lvisSubset } from "./lvis_subset.ts";
