/**
 * The `eval` stage: LVIS evaluation of a results file against ground truth,
 * writing metrics.json with the official API's metric names.
 */
import { join } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../core/atomic.ts";
import { defineStage } from "../pipeline/stage.ts";
import { lvisEvalFiles } from "../eval/lvis_eval.ts";

/** Parameters of the eval stage. */
export const evalParams = z.strictObject({
  /** LVIS v1 ground truth JSON. */
  gt: z.string().min(1),
  /** Results JSON (list of detections). */
  dt: z.string().min(1),
  iouType: z.enum(["bbox", "segm"]).default("bbox"),
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
});

/** Evaluate and write `metrics.json` into `outDir`. */
export async function runEval(params: z.infer<typeof evalParams>, outDir: string): Promise<z.infer<typeof evalOutput>> {
  const maxDets = params.apFixed ? -1 : params.maxDets;
  const report = await lvisEvalFiles(params.gt, params.dt, {
    iouType: params.iouType,
    maxDets,
    detsPerCat: params.apFixed ? params.detsPerCat : -1,
    pooled: params.apPooled,
    raw: params.raw,
  });
  const metrics = join(outDir, "metrics.json");
  await writeJsonAtomic(metrics, report);
  const r = report.results;
  return { metrics, AP: r.AP, AP50: r.AP50, APr: r.APr, APc: r.APc, APf: r.APf, AR: r[`AR@${maxDets}`] };
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
  run: (params, ctx) => runEval(params, ctx.outDir),
});
