/**
 * LVIS evaluation with the official API's numbers (bbox and segm, AP-fixed,
 * AP-pooled), over typed arrays, split-and-merge by category.
 *
 * @example
 * ```ts
 * import { lvisEvalFiles } from "./eval/mod.ts";
 * const report = await lvisEvalFiles("gt.json", "results.json", { iouType: "bbox" });
 * console.log(report.print_results.join("\n"));
 * ```
 * @module
 */
export {
  categoryShard,
  lvisEval,
  lvisEvalFiles,
  type LvisEvalOptions,
  type LvisEvalReport,
  reportFromState,
} from "./lvis_eval.ts";
export { evaluate, type EvaluateOptions } from "./evaluate.ts";
export type { EvalCounts, EvalState, PooledDetections } from "./eval_state.ts";
export { type GroundTruth, parseGroundTruth, readGroundTruth } from "./ground_truth.ts";
export { readResults, type Results, type RleJson } from "./results_file.ts";
export { type CategoryMetrics, type EvalSummary, summarize } from "./summarize.ts";
export { pooledAp } from "./pooled.ts";
export { mergeStates } from "./merge.ts";
export { readState, writeState } from "./state_file.ts";
export { formatFixed, summaryLines } from "./print_summary.ts";
export { numpySum, validMean } from "./numpy_sum.ts";
export { decodeRle, polygonToRle, type Rle, rleArea, rleIou, rleToBbox, unionRle } from "./rle.ts";
export { type SyntheticOptions, writeSyntheticCase } from "./synthetic_case.ts";
export type { IouType } from "./geometry.ts";
export { AREA_LABELS, AREA_RANGES, IOU_THRESHOLDS, RECALL_POINTS } from "./params.ts";
