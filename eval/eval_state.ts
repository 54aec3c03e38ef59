// States of disjoint category subsets merge exactly.
import type { IouType } from "./geometry.ts";
import { A, R, T } from "./params.ts";
import { sharedFloat64 } from "./shared_arrays.ts";

export interface PooledDetections {
  count: number;
  score: Float64Array;
  image: Int32Array;
  category: Int32Array;
  /** Position inside its (category, image) list, score-sorted. */
  rank: Int32Array;
  /** Status per detection per IoU threshold: `status[t * count + i]`. */
  status: Uint8Array;
}

export interface EvalCounts {
  images: number;
  categories: number;
  gtInFile: number;
  gtUsed: number;
  dtInFile: number;
  dtAfterLimits: number;
  dtUsed: number;
}

export interface EvalState {
  iouType: IouType;
  /** Per-image cap used (-1 when none); names the AR keys. */
  maxDets: number;
  detsPerCat: number;
  categoryIds: Float64Array;
  /** 0 = r, 1 = c, 2 = f. */
  frequency: Uint8Array;
  categoryNames: string[];
  evaluated: Uint8Array;
  /**
   * Interpolated precision, category-major: `[K][A][T][R]`. Only rows with `numGt[k * A + a] > 0` are
   * meaningful (the reference's -1 elsewhere); `precisionAt` reads it the reference's way.
   */
  precision: Float64Array;
  recall: Float64Array;
  numGt: Int32Array;
  /** 1 where the category has any ground truth or detection (the reference's non-empty E). */
  present: Uint8Array;
  pooled: PooledDetections | null;
  counts: EvalCounts;
}

/** Precision at (threshold, recall point, category, area) as the reference stores it: -1 where invalid. */
export function precisionAt(s: EvalState, t: number, r: number, k: number, a: number): number {
  return s.numGt[k * A + a] > 0 ? s.precision[((k * A + a) * T + t) * R + r] : -1;
}

/** Recall at (threshold, category, area) as the reference stores it: -1 where invalid. */
export function recallAt(s: EvalState, t: number, k: number, a: number): number {
  return s.numGt[k * A + a] > 0 ? s.recall[(k * A + a) * T + t] : -1;
}

/** Untouched rows cost no memory until written. */
export function emptyCurves(numCategories: number): { precision: Float64Array; recall: Float64Array } {
  return { precision: sharedFloat64(numCategories * A * T * R), recall: sharedFloat64(numCategories * A * T) };
}
