import { type EvalState, precisionAt, recallAt } from "./eval_state.ts";
import { evaluate, type EvaluateOptions } from "./evaluate.ts";
import { type GroundTruth, readGroundTruth } from "./ground_truth.ts";
import { A, R, T } from "./params.ts";
import { summaryLines } from "./print_summary.ts";
import { readResults, type ReadResultsOptions, type Results } from "./results_file.ts";
import { type CategoryMetrics, summarize } from "./summarize.ts";

export interface LvisEvalOptions extends EvaluateOptions {
  /** Include the raw `precision_TRKA` and `recall_TKA` arrays. */
  raw?: boolean;
  /** Results on category ids the ground truth lacks: refuse the file (default) or drop them as lvis-api does. */
  unknownCategories?: "error" | "drop";
}

export interface LvisEvalReport {
  iou_type: string;
  params: { max_dets: number; dets_per_cat: number; ap_pooled: boolean };
  /** Keyed by the reference's names: AP ... AR@300 (AR@-1 without a cap), AP-pooled-{all,r,c,f}. */
  results: Record<string, number>;
  print_results: string[];
  counts: EvalState["counts"] & { categories_with_AP: { r: number; c: number; f: number } };
  per_category: CategoryMetrics[];
  precision_TRKA?: number[][][][];
  recall_TKA?: number[][][];
}

/**
 * Turn an evaluated (or merged) state into the report.
 *
 * @example
 * ```ts
 * const report = reportFromState(evaluate(gt, dt), { pooled: false, raw: false });
 * ```
 */
export function reportFromState(state: EvalState, options: { pooled?: boolean; raw?: boolean } = {}): LvisEvalReport {
  const pooled = options.pooled ?? false;
  const s = summarize(state, { pooled });
  const report: LvisEvalReport = {
    iou_type: state.iouType,
    params: { max_dets: state.maxDets, dets_per_cat: state.detsPerCat, ap_pooled: pooled },
    results: s.results,
    print_results: summaryLines(s.results, state.maxDets),
    counts: { ...state.counts, categories_with_AP: s.categoriesWithAp },
    per_category: s.perCategory,
  };
  if (options.raw) {
    const K = state.categoryIds.length;
    const nest = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));
    report.precision_TRKA = nest(
      T,
      (t) => nest(R, (r) => nest(K, (k) => nest(A, (a) => precisionAt(state, t, r, k, a)))),
    ) as number[][][][];
    report.recall_TKA = nest(T, (t) => nest(K, (k) => nest(A, (a) => recallAt(state, t, k, a)))) as number[][][];
  }
  return report;
}

/**
 * Evaluate loaded ground truth and results.
 *
 * @param gt from `readGroundTruth`
 * @param dt from `readResults`
 * @param options iou type, cap (`maxDets`), AP-fixed (`detsPerCat`), AP-pooled (`pooled`), `raw` arrays
 * @returns the report
 * @example
 * ```ts
 * const gt = await readGroundTruth("gt.json", false);
 * const report = lvisEval(gt, await readResults("dt.json", gt), { iouType: "bbox" });
 * console.log(report.results["AP"]);
 * ```
 */
export function lvisEval(gt: GroundTruth, dt: Results, options: LvisEvalOptions = {}): LvisEvalReport {
  return reportFromState(evaluate(gt, dt, options), options);
}

/**
 * Read both files and evaluate.
 *
 * @example
 * ```ts
 * const report = await lvisEvalFiles("gt.json", "dt.json", { maxDets: -1, detsPerCat: 10000 });
 * ```
 */
export async function lvisEvalFiles(
  gtPath: string,
  dtPath: string,
  options: LvisEvalOptions = {},
): Promise<LvisEvalReport> {
  const gt = await readGroundTruth(gtPath, options.iouType === "segm");
  return lvisEval(gt, await readResults(dtPath, gt, readOptionsFor(options)), options);
}

/**
 * How to read results for an evaluation with these options: with the per-image cap (not AP-fixed),
 * selection while reading.
 *
 * @example
 * ```ts
 * const dt = await readResults("dt.json", gt, readOptionsFor({ maxDets: 300 }));
 * ```
 */
export function readOptionsFor(options: LvisEvalOptions): ReadResultsOptions {
  const maxDets = options.maxDets ?? 300;
  return {
    unknownCategories: options.unknownCategories,
    select: (options.detsPerCat ?? -1) < 0 && maxDets >= 0 ? { maxDets } : undefined,
  };
}

/**
 * The category ids of shard `index` of `count` (every count-th id in sorted order).
 *
 * @example
 * ```ts
 * categoryShard(gt, 0, 4); // ids at sorted positions 0, 4, 8, ...
 * ```
 */
export function categoryShard(gt: GroundTruth, index: number, count: number): number[] {
  return Array.from(gt.categoryIds).filter((_, k) => k % count === index);
}
