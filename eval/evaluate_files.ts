// Reads the results files of mmdetection (`*.bbox.json`, `*.segm.json`), detectron2 (`*_instances_results.json`,
// boxes and masks in one) and tailor, each once.
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { InputError } from "../core/errors.ts";
import { evaluateOnThreads } from "./evaluate_threads.ts";
import type { IouType } from "./geometry.ts";
import { readGroundTruth } from "./ground_truth.ts";
import { type LvisEvalOptions, type LvisEvalReport, readOptionsFor, reportFromState } from "./lvis_eval.ts";
import { peekResultFields, type Results } from "./results_file.ts";
import { readResultsOnThreads } from "./results_parallel.ts";
import { evalThreads, WorkerPool } from "./threads.ts";

export interface LvisEvalAllOptions extends Omit<LvisEvalOptions, "iouType" | "categoryIds"> {
  /** IoU types to evaluate (default: bbox for one results file, bbox and segm for two). */
  iouTypes?: IouType[];
  /** Threads to use, this one included (default `evalThreads` of the largest results file; 1: no workers). */
  threads?: number;
}

export interface LvisEvalAll {
  reports: { iouType: IouType; file: string; report: LvisEvalReport }[];
  /** One line each: ground truth taken as COCO, results dropped. */
  notes: string[];
}

/**
 * Which results file each IoU type reads. One file serves every type; of two files, the one whose results
 * carry masks is segm's and the other bbox's.
 *
 * @throws InputError for two files of the same kind, or more than two files
 */
export async function assignResultsFiles(dtPaths: string[], iouTypes: IouType[]): Promise<Map<IouType, string>> {
  const out = new Map<IouType, string>();
  if (dtPaths.length === 1) {
    for (const t of iouTypes) out.set(t, dtPaths[0]);
    return out;
  }
  if (dtPaths.length !== 2) {
    throw new InputError(`Expected one or two results files (one per IoU type), got ${dtPaths.length}`);
  }
  const withMasks = await Promise.all(dtPaths.map(async (p) => (await peekResultFields(p)).segmentation));
  const names = dtPaths.map((p) => JSON.stringify(basename(p))).join(" and ");
  if (withMasks[0] === withMasks[1]) {
    const type = withMasks[0] ? "segm" : "bbox";
    throw new InputError(
      `Two results files for ${type}: ${names} both ${withMasks[0] ? "carry" : "lack"} masks; give one per IoU type`,
    );
  }
  if (iouTypes.length !== 2) {
    throw new InputError(`Two results files (${names}) need both IoU types; --iou-type asks for ${iouTypes.join(",")}`);
  }
  const segm = withMasks[0] ? 0 : 1;
  out.set("bbox", dtPaths[1 - segm]);
  out.set("segm", dtPaths[segm]);
  return out;
}

/**
 * Evaluate results files against ground truth for one or both IoU types.
 *
 * @param gtPath LVIS (or COCO) ground truth
 * @param dtPaths one results file, or two (one per IoU type, as mmdetection writes them)
 * @param options IoU types, limits, AP-fixed/pooled, area and unknown-category handling
 * @returns a report per IoU type, in the order asked, and notes for the user
 * @example
 * ```ts
 * const { reports } = await lvisEvalAll("lvis_v1_val.json", ["r.bbox.json", "r.segm.json"]);
 * for (const { iouType, report } of reports) console.log(iouType, report.results.AP);
 * ```
 */
export async function lvisEvalAll(
  gtPath: string,
  dtPaths: string[],
  options: LvisEvalAllOptions = {},
): Promise<LvisEvalAll> {
  const iouTypes = options.iouTypes ?? (dtPaths.length === 2 ? ["bbox", "segm"] : ["bbox"]);
  const files = await assignResultsFiles(dtPaths, iouTypes);
  const pool = await _poolFor([...files.values()], options.threads);
  try {
    const gt = await readGroundTruth(gtPath, iouTypes.includes("segm"));
    const notes = [...gt.notes];
    const read = new Map<string, Results>();
    const reports: LvisEvalAll["reports"] = [];
    for (const iouType of iouTypes) {
      const file = files.get(iouType)!;
      let dt = read.get(file);
      if (!dt) {
        dt = await readResultsOnThreads(file, gt, readOptionsFor(options), pool);
        read.set(file, dt);
        if (dt.unknownCategories) {
          notes.push(
            `${dt.unknownCategories} results in ${JSON.stringify(basename(file))} are on category ids that ` +
              `${JSON.stringify(basename(gtPath))} lacks: dropped, as lvis-api drops them`,
          );
        }
      }
      const state = await evaluateOnThreads(gt, dt, { ...options, iouType }, pool);
      reports.push({ iouType, file, report: reportFromState(state, options) });
    }
    for (const why of pool?.failures ?? []) notes.push(`a worker thread stopped (${why}): its work was done here`);
    return { reports, notes };
  } finally {
    pool?.close();
  }
}

async function _poolFor(dtPaths: string[], threads: number | undefined): Promise<WorkerPool | null> {
  const sizes = await Promise.all(dtPaths.map((p) => stat(p).then((s) => s.size, () => 0)));
  const n = threads ?? evalThreads(Math.max(...sizes));
  return n > 1 ? new WorkerPool(n - 1) : null;
}

/** The metric names of lvis-api's `LVISEval.results` (AP-pooled is not one of them). */
export function lvisApiResults(report: LvisEvalReport): Record<string, number> {
  return Object.fromEntries(Object.entries(report.results).filter(([k]) => !k.startsWith("AP-pooled")));
}
