import { type CategoryContext, CategoryEvaluator } from "./category_eval.ts";
import { emptyCurves, type EvalState, type PooledDetections } from "./eval_state.ts";
import { usedItems } from "./federated.ts";
import { type IouType, requireMasks, resultAreas } from "./geometry.ts";
import type { GroundTruth } from "./ground_truth.ts";
import { A, T } from "./params.ts";
import type { Results } from "./results_file.ts";
import type { Rle } from "./rle.ts";
import { selectResults } from "./select.ts";
import { sharedFloat64, sharedInt32, sharedUint8 } from "./shared_arrays.ts";

export interface EvaluateOptions {
  iouType?: IouType;
  /** Per-image cap, across categories (default 300; -1 for none). */
  maxDets?: number;
  /** Keep only the top results per category over the file (AP-fixed: 10000; default -1, off). */
  detsPerCat?: number;
  pooled?: boolean;
  /** Evaluate only these category ids (default all); states of disjoint subsets merge. */
  categoryIds?: readonly number[];
  /**
   * segm: take result areas from the masks even where results carry boxes (detectron2 drops the boxes
   * before its LVIS segm evaluation; lvis-api and mmdetection use the box areas). Default false.
   */
  maskArea?: boolean;
}

/**
 * Evaluate results against ground truth: selection, federated filter, matching per (category, area, image)
 * and accumulation.
 *
 * @param gt ground truth from `readGroundTruth`
 * @param dt results from `readResults`
 * @param options iou type, limits and the categories to cover
 * @returns the raw state; pass it to `summarize` (or merge states first)
 * @example
 * ```ts
 * const state = evaluate(gt, dt, { iouType: "bbox" });
 * ```
 */
export function evaluate(gt: GroundTruth, dt: Results, options: EvaluateOptions = {}): EvalState {
  const { state, context } = prepareEvaluation(gt, dt, options);
  const evaluator = new CategoryEvaluator(context);
  for (let k = 0; k < state.evaluated.length; k++) if (state.evaluated[k]) evaluator.run(k, state, state.pooled);
  return state;
}

/**
 * Steps 1-4 of `evaluate`: the empty state and what its per-category loop reads, on shared memory so that
 * worker threads can fill categories.
 */
export function prepareEvaluation(
  gt: GroundTruth,
  dt: Results,
  options: EvaluateOptions = {},
): { state: EvalState; context: CategoryContext } {
  const iouType = options.iouType ?? "bbox";
  const maxDets = options.maxDets ?? 300;
  const detsPerCat = options.detsPerCat ?? -1;
  const K = gt.categoryIds.length, I = gt.imageIds.length;
  const evaluated = _evaluatedCategories(gt, options.categoryIds);
  if (iouType === "segm") requireMasks(dt);
  const pre = dt.selected;
  if (pre && (detsPerCat >= 0 || maxDets !== pre.maxDets)) {
    throw new Error(`The results were selected while reading for maxDets ${pre.maxDets}, not for these limits`);
  }

  // 1. Limits (unless applied while reading), 2. areas (the box-area quirk; AP-fixed drops boxes for segm
  // as its script does).
  const sel = pre ? null : selectResults(dt, I, K, { maxDets, detsPerCat });
  const masks: (Rle | undefined)[] = [];
  const useBoxes = !(iouType === "segm" && (detsPerCat >= 0 || options.maskArea));
  const boxAreas = useBoxes && (pre ? pre.firstHasBbox : dt.hasBbox[sel!.first] === 1);
  const keep = sel?.keep ?? null;
  const area = resultAreas(dt, keep, boxAreas, masks);
  // 3. Valid ground truth fixes the positive sets; 4. the federated filter.
  const used = usedItems(gt, dt, keep, area, evaluated);
  const nd = used.dt.order.length;

  // 5. Matching and 6. accumulation fill the state category by category.
  const { precision, recall } = emptyCurves(K);
  const state: EvalState = {
    iouType,
    maxDets,
    detsPerCat,
    categoryIds: gt.categoryIds,
    frequency: gt.frequency,
    categoryNames: gt.categoryNames,
    evaluated,
    precision,
    recall,
    numGt: sharedInt32(K * A),
    present: sharedUint8(K),
    pooled: options.pooled ? _emptyPooled(nd) : null,
    counts: {
      images: I,
      categories: K,
      gtInFile: gt.annotationCount,
      gtUsed: used.gt.order.length,
      dtInFile: pre ? pre.inFile : dt.count,
      dtAfterLimits: pre ? pre.afterLimits : sel!.keptCount,
      dtUsed: nd,
    },
  };
  return { state, context: { gt, dt, iouType, area, masks, gtUsed: used.gt, dtUsed: used.dt } };
}

function _evaluatedCategories(gt: GroundTruth, ids: readonly number[] | undefined): Uint8Array {
  const evaluated = new Uint8Array(gt.categoryIds.length);
  if (!ids) return evaluated.fill(1);
  for (const id of ids) {
    const k = gt.categoryIndex.get(id);
    if (k !== undefined) evaluated[k] = 1;
  }
  return evaluated;
}

function _emptyPooled(n: number): PooledDetections {
  return {
    count: n,
    score: sharedFloat64(n),
    image: sharedInt32(n),
    category: sharedInt32(n),
    rank: sharedInt32(n),
    status: sharedUint8(T * n),
  };
}
