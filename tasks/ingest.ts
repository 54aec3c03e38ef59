/**
 * The `ingest` stage: read an LVIS or COCO annotation file, validate it,
 * and leave its columnar cache for training and evaluation.
 */
import { join } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../core/atomic.ts";
import { defineStage } from "../pipeline/stage.ts";
import { FREQUENCIES } from "../data/dataset.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { summarizeIssues } from "../data/ingest/issues.ts";

/** Parameters of the ingest stage. */
export const ingestParams = z.strictObject({
  /** The annotation file (LVIS v0.5/v1 or COCO JSON). */
  annotations: z.string().min(1),
  /** Folder the images' file names are relative to (default: beside an `annotations/` folder). */
  imageRoot: z.string().min(1).optional(),
  cacheDir: z.string().min(1).default(".cache/datasets"),
  /** "skip" leaves out annotations with errors instead of failing. */
  onError: z.enum(["throw", "skip"]).default("throw"),
});

/** Output of the ingest stage. */
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
});

/**
 * The stage kind.
 *
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
    });
    const ds = r.dataset;
    const groups = FREQUENCIES.map((_, g) => ds.categories.frequency.filter((f) => f === g).length);
    const summary = summarizeIssues(r.issues);
    ctx.log(
      `${ds.images.count} images, ${ds.annotations.count} annotations, ${ds.categories.count} categories; ${summary}`,
    );
    const report = join(ctx.outDir, "ingest.json");
    await writeJsonAtomic(report, { source: ds.source, contentHash: ds.contentHash, issues: r.issues }, 2);
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
      warnings: count(r.issues.warnings),
      summary,
      report,
    };
  },
});
