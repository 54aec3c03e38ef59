/**
 * The `eval` stage: LVIS evaluation of a results file against ground truth,
 * writing metrics.json with the official API's metric names, and
 * metrics_segm.json too when the results carry masks.
 */
import { join } from "node:path";
import { z } from "zod";
import { inputFile } from "../pipeline/input_path.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import { defineStage } from "../pipeline/stage.ts";
import { lvisEvalAll } from "../eval/evaluate_files.ts";
import { peekResultFields } from "../eval/results_file.ts";

/** Parameters of the eval stage. */
export const evalParams = z.strictObject({
  /** LVIS v1 ground truth JSON. */
  gt: inputFile(),
  /** Results JSON (list of detections). */
  dt: inputFile(),
  /** The IoU type of metrics.json. */
  iouType: z.enum(["bbox", "segm"]).default("bbox"),
  /**
   * IoU types to evaluate; default: `iouType`, and both when it is bbox and the results carry masks. With both,
   * metrics.json is bbox's and metrics_segm.json segm's.
   */
  iouTypes: z.array(z.enum(["bbox", "segm"])).min(1).max(2).optional(),
  /** segm: areas from the masks even where results carry boxes (as detectron2 evaluates). */
  maskArea: z.boolean().default(false),
  /** Results on category ids the ground truth lacks: refuse the file, or drop them as lvis-api does. */
  unknownCategories: z.enum(["error", "drop"]).default("error"),
  /** Results kept per image across categories; -1 for no cap. Ignored with apFixed. */
  maxDets: z.int().min(-1).default(300),
  /** AP-fixed: no per-image cap, top `detsPerCat` results per category. */
  apFixed: z.boolean().default(false),
  detsPerCat: z.int().min(1).default(10000),
  /** Also report AP-pooled-{all,r,c,f}. */
  apPooled: z.boolean().default(false),
  /** Include the raw precision/recall arrays in metrics.json. */
  raw: z.boolean().default(false),
});

/** Output of the eval stage: the metrics file and the headline numbers. */
export const evalOutput = z.object({
  metrics: z.string(),
  AP: z.number(),
  AP50: z.number(),
  APr: z.number(),
  APc: z.number(),
  APf: z.number(),
  AR: z.number(),
  /** metrics_segm.json, when segm was evaluated beside bbox. */
  segmMetrics: z.string().optional(),
});

/**
 * The IoU types an eval stage evaluates: `iouTypes`, else `iouType`, and both when that is bbox and the
 * results carry masks. With both, bbox comes first: metrics.json is bbox's and metrics_segm.json segm's.
 */
export async function evalIouTypes(params: z.infer<typeof evalParams>): Promise<("bbox" | "segm")[]> {
  let types = params.iouTypes ?? [params.iouType];
  if (!params.iouTypes && params.iouType === "bbox" && (await peekResultFields(params.dt)).segmentation) {
    types = ["bbox", "segm"];
  }
  return types.length === 2 ? ["bbox", "segm"] : types;
}

/** Evaluate and write `metrics.json` (and `metrics_segm.json`) into `outDir`; `log` gets the notes on COCO files. */
export async function runEval(
  params: z.infer<typeof evalParams>,
  outDir: string,
  log: (line: string) => void = (line) => console.error(line),
): Promise<z.infer<typeof evalOutput>> {
  const maxDets = params.apFixed ? -1 : params.maxDets;
  const iouTypes = await evalIouTypes(params);
  const { reports, notes } = await lvisEvalAll(params.gt, [params.dt], {
    iouTypes,
    maxDets,
    detsPerCat: params.apFixed ? params.detsPerCat : -1,
    pooled: params.apPooled,
    raw: params.raw,
    maskArea: params.maskArea,
    unknownCategories: params.unknownCategories,
  });
  for (const note of notes) log(`note: ${note}`);
  const metrics = join(outDir, "metrics.json");
  await writeJsonAtomic(metrics, reports[0].report);
  let segmMetrics: string | undefined;
  if (reports.length > 1) {
    segmMetrics = join(outDir, "metrics_segm.json");
    await writeJsonAtomic(segmMetrics, reports[1].report);
  }
  const r = reports[0].report.results;
  return {
    metrics,
    AP: r.AP,
    AP50: r.AP50,
    APr: r.APr,
    APc: r.APc,
    APf: r.APf,
    AR: r[`AR@${maxDets}`],
    ...(segmMetrics ? { segmMetrics } : {}),
  };
}

/**
 * The eval stage.
 *
 * @example
 * ```ts
 * const out = await evalStage.run(evalParams.parse({ gt: "gt.json", dt: "dt.json" }), directContext("out"));
 * out.AP;
 * ```
 */
export const evalStage = defineStage({
  kind: "eval",
  description: "LVIS evaluation (bbox/segm, AP-fixed, AP-pooled) with the official API's numbers",
  params: evalParams,
  output: evalOutput,
  sharding: { part: "eval-part", merge: "eval-merge" },
  async run(params, ctx) {
    // The evaluator reports no steps of its own: the phase shows as begun and ended.
    ctx.progress(0, 1, params.dt, "eval");
    const out = await runEval(params, ctx.outDir, ctx.log);
    ctx.progress(1, 1, `AP ${(100 * out.AP).toFixed(2)}`, "eval");
    return out;
  },
});
