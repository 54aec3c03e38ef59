/**
 * LVIS evaluation with the official API's numbers (bbox and segm, AP-fixed, AP-pooled), split-and-merge by
 * category; results of tailor, mmdetection and detectron2, LVIS or COCO ground truth.
 *
 * @example
 * ```ts
 * import { lvisEvalAll } from "./eval/mod.ts";
 * const { reports } = await lvisEvalAll("gt.json", ["results.bbox.json", "results.segm.json"]);
 * for (const { iouType, report } of reports) console.log(iouType, report.print_results.join("\n"));
 * ```
 * @module
 */
export {
  categoryShard,
  lvisEval,
  lvisEvalFiles,
  type LvisEvalOptions,
  type LvisEvalReport,
  readOptionsFor,
  reportFromState,
} from "./lvis_eval.ts";
export {
  assignResultsFiles,
  lvisApiResults,
  type LvisEvalAll,
  lvisEvalAll,
  type LvisEvalAllOptions,
} from "./evaluate_files.ts";
export { evaluate, type EvaluateOptions } from "./evaluate.ts";
export { type EvalCounts, type EvalState, type PooledDetections, precisionAt, recallAt } from "./eval_state.ts";
export { frequencyOf, type GroundTruth, parseGroundTruth, readGroundTruth } from "./ground_truth.ts";
export {
  peekResultFields,
  type Preselection,
  readResults,
  type ReadResultsOptions,
  type Results,
  type RleJson,
} from "./results_file.ts";
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
