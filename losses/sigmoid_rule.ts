// A sigmoid loss's rule, read by both `SigmoidLoss` and `sigmoidReference`, so that both use the same numbers.
import type { SigmoidFragments } from "../kernels/losses/sigmoid_fused.ts";
import type { LossState } from "./loss.ts";

/** Per-column inputs P (length C) of the fused pass, from the host: EQL's rare mask, the federated categories. */
export interface ColumnInputs {
  initial: Float64Array;
  /** P for one step, from its labels (on the host); absent where P never changes. */
  forStep?(labels: ArrayLike<number>): Float64Array;
  /** State to checkpoint with the loss's (the sampler's generator). */
  state?(): Partial<LossState>;
  loadState?(state: LossState): void;
}

/** One element as the float64 reference sees it: logit x, target t, column j, the row's label. */
export interface Element64 {
  x: number;
  t: 0 | 1;
  j: number;
  label: number;
  bce: number;
  p: number;
  d: number;
}

/** An element's weight, loss, d loss / d x (before loss weight / avgFactor) and statistic. */
export interface ElementOut64 {
  w: number;
  l: number;
  g: number;
  stat: number;
}

export interface Step64 {
  ratio: Float64Array;
  columnInputs: ArrayLike<number>;
  /** loss weight / avgFactor. */
  scale: number;
}

export interface SigmoidRule {
  name: string;
  numClasses: number;
  columns: number;
  lossWeight: number;
  /** ratio_j before any step: 100 for EQL v2, g_j = 1 for EFL; 0 (unused) if not given. */
  initialRatio?: number;
  clampRatio?: boolean;
  /** Scores s_j = sigma(x_j) (1 - sigma(x_C)) (EQL v2's test_with_obj). */
  scoresWithObj?: boolean;
  columnInputs?: ColumnInputs;
  wgsl(width: 1 | 4): SigmoidFragments;
  element64(step: Step64): (e: Element64) => ElementOut64;
}

/** An element whose BCE is weighted by `w`, in float64: `weightedBceWgsl`'s twin. */
export function weightedBce64(e: Element64, w: number): ElementOut64 {
  const g = w * e.d;
  return { w, l: w * e.bce, g, stat: Math.abs(g) };
}
