/** The `ingest` stage: validate an LVIS or COCO annotation file and leave its columnar cache. */
import { join } from "node:path";
import { z } from "zod";
import { inputFile, inputFolder } from "../pipeline/input_path.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import { defineStage } from "../pipeline/stage.ts";
import { ingestProgress } from "./_compile_progress.ts";
import { FREQUENCIES } from "../data/dataset.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { summarizeIssues } from "../data/ingest/issues.ts";
import { datasetNotes, frequenciesFromTraining, writeTrainingFrequencies } from "../data/dataset_notes.ts";
import { findMissingImages, missingImagesMessage } from "../data/image_files.ts";

export const ingestParams = z.strictObject({
  annotations: inputFile(),
  /** Default: beside an `annotations/` folder. */
  imageRoot: inputFolder().optional(),
  cacheDir: z.string().min(1).default(".cache/datasets"),
  onError: z.enum(["throw", "skip"]).default("throw"),
  /** Training annotations that give a COCO file's categories LVIS's frequency groups. */
  frequencyFrom: inputFile().optional(),
  checkImages: z.boolean().default(true),
});

export const ingestOutput = z.object({
  source: z.string(),
  imageRoot: z.string(),
  cachePath: z.string(),
  contentHash: z.string(),
  images: z.int(),
  annotations: z.int(),
  categories: z.int(),
  rare: z.int(),
  common: z.int(),
  frequent: z.int(),
  errors: z.int(),
  warnings: z.int(),
  summary: z.string(),
  report: z.string(),
  /** The source, or a copy with the training set's frequency groups. */
  gt: z.string(),
  missingImages: z.int(),
  /** What was assumed about a file without LVIS's fields, one line each. */
  notes: z.array(z.string()),
});

/**
 * @example
 * ```ts
 * import { directContext } from "../pipeline/stage.ts";
 * import { ingestParams, ingestStage } from "./ingest.ts";
 * const params = ingestParams.parse({ annotations: "/work/shared/fixtures/lvis/c01_tiny/gt.json", cacheDir: "/tmp/c" });
 * const out = await ingestStage.run(params, directContext(await Deno.makeTempDir()));
 * out.annotations; // 9
 * ```
 */
export const ingestStage = defineStage({
  kind: "ingest",
  description: "Read an LVIS/COCO annotation file, validate it and cache its columns",
  params: ingestParams,
  output: ingestOutput,
  async run(params, ctx) {
    const r = await ingestDataset(params.annotations, {
      imageRoot: params.imageRoot,
      cache: params.cacheDir,
      onError: params.onError,
      onProgress: ingestProgress(ctx),
    });
    const ds = r.dataset;
    const summary = summarizeIssues(r.issues);
    ctx.log(
      `${ds.images.count} images, ${ds.annotations.count} annotations, ${ds.categories.count} categories; ${summary}`,
    );
    let missingImages = 0;
    if (params.checkImages) {
      const missing = await findMissingImages(ds);
      const message = missingImagesMessage(missing, ds.images.count, ds.imageRoot);
      if (message) ctx.log(`warning: ${message}`);
      missingImages = missing.count;
    }
    let gt = ds.source;
    let frequency = ds.categories.frequency;
    const notes = datasetNotes(ds);
    if (params.frequencyFrom && ds.assumed.frequency) {
      const train = (await ingestDataset(params.frequencyFrom, { cache: params.cacheDir, masks: false })).dataset;
      gt = join(ctx.outDir, "gt.json");
      notes[0] = await writeTrainingFrequencies(ds.source, train, gt);
      const groups = frequenciesFromTraining(train, Array.from(ds.categories.ids));
      frequency = Uint8Array.from(groups, (g) => FREQUENCIES.indexOf(g.frequency));
    }
    for (const note of notes) ctx.log(`note: ${note}`);
    const groups = FREQUENCIES.map((_, g) => frequency.filter((f) => f === g).length);
    const report = join(ctx.outDir, "ingest.json");
    await writeJsonAtomic(report, { source: ds.source, contentHash: ds.contentHash, issues: r.issues, notes }, 2);
    const count = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    return {
      source: ds.source,
      imageRoot: ds.imageRoot,
      cachePath: r.cachePath!,
      contentHash: ds.contentHash,
      images: ds.images.count,
      annotations: ds.annotations.count,
      categories: ds.categories.count,
      rare: groups[0],
      common: groups[1],
      frequent: groups[2],
      errors: count(r.issues.errors),
      warnings: count(r.issues.warnings) + missingImages,
      summary,
      report,
      gt,
      missingImages,
      notes,
    };
  },
});
