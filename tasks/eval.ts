/** The `eval` stage: LVIS metrics with the official API's names; metrics_segm.json too for masks. */
import { join } from "node:path";
import { z } from "zod";
import { inputFile } from "../pipeline/input_path.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import { defineStage } from "../pipeline/stage.ts";
import { lvisEvalAll } from "../eval/evaluate_files.ts";
import type { LvisEvalReport } from "../eval/lvis_eval.ts";
import { peekResultFields } from "../eval/results_file.ts";

export const evalParams = z.strictObject({
  gt: inputFile(),
  dt: inputFile(),
  iouType: z.enum(["bbox", "segm"]).default("bbox"),
  /** Default: `iouType`, and both when it is bbox and the results carry masks. */
  iouTypes: z.array(z.enum(["bbox", "segm"])).min(1).max(2).optional(),
  /** segm: areas from the masks even where results carry boxes (as detectron2). */
  maskArea: z.boolean().default(false),
  /** "drop" as lvis-api does. */
  unknownCategories: z.enum(["error", "drop"]).default("error"),
  /** -1 for no cap. Ignored with apFixed. */
  maxDets: z.int().min(-1).default(300),
  /** AP-fixed: no per-image cap, top `detsPerCat` results per category. */
  apFixed: z.boolean().default(false),
  detsPerCat: z.int().min(1).default(10000),
  apPooled: z.boolean().default(false),
  raw: z.boolean().default(false),
});

export const evalOutput = z.object({
  metrics: z.string(),
  AP: z.number(),
  AP50: z.number(),
  APr: z.number(),
  APc: z.number(),
  APf: z.number(),
  AR: z.number(),
  segmMetrics: z.string().optional(),
});

/** With both, bbox comes first: metrics.json is bbox's and metrics_segm.json segm's. */
export async function evalIouTypes(params: z.infer<typeof evalParams>): Promise<("bbox" | "segm")[]> {
  let types = params.iouTypes ?? [params.iouType];
  if (!params.iouTypes && params.iouType === "bbox" && (await peekResultFields(params.dt)).segmentation) {
    types = ["bbox", "segm"];
  }
  return types.length === 2 ? ["bbox", "segm"] : types;
}

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
  return await writeEvalReports(outDir, reports.map((r) => r.report), maxDets);
}

/** metrics.json from the first report (bbox when both), metrics_segm.json from a second; the stage's outputs. */
export async function writeEvalReports(
  outDir: string,
  reports: LvisEvalReport[],
  maxDets: number,
): Promise<z.infer<typeof evalOutput>> {
  const metrics = join(outDir, "metrics.json");
  await writeJsonAtomic(metrics, reports[0]);
  let segmMetrics: string | undefined;
  if (reports.length > 1) {
    segmMetrics = join(outDir, "metrics_segm.json");
    await writeJsonAtomic(segmMetrics, reports[1]);
  }
  const r = reports[0].results;
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
