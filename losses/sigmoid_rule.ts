/**
 * What a sigmoid-family loss's file gives the shared GPU loss (`SigmoidLoss`)
 * and float64 reference (`sigmoidReference`), so that both read the same numbers.
 */
import type { SigmoidFragments } from "../kernels/losses/sigmoid_fused.ts";
import type { LossState } from "./loss.ts";

/**
 * Per-column inputs P (length C) of the fused pass, from the host: EQL's
 * rare mask, the federated sampler's categories of the step.
 */
export interface ColumnInputs {
  /** P before the first step. */
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
  /** BCE(x, t), sigma(x) and sigma(x) - t. */
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

/** What a step's float64 element rule may read. */
export interface Step64 {
  /** The state's ratio before the step (length C). */
  ratio: Float64Array;
  /** P of the step (length C). */
  columnInputs: ArrayLike<number>;
  /** loss weight / avgFactor. */
  scale: number;
}

export interface SigmoidRule {
  name: string;
  numClasses: number;
  /** Logit columns: C + 1 with a background channel, else C. */
  columns: number;
  lossWeight: number;
  /** ratio_j before any step: 100 for EQL v2, g_j = 1 for EFL; 0 (unused) if not given. */
  initialRatio?: number;
  /** The ratio is clamped to [0, 1] (EFL's g_j). */
  clampRatio?: boolean;
  /** Scores s_j = sigma(x_j) (1 - sigma(x_C)) (EQL v2's test_with_obj). */
  scoresWithObj?: boolean;
  columnInputs?: ColumnInputs;
  /** The loss's part of the fused pass for `width` elements per invocation. */
  wgsl(width: 1 | 4): SigmoidFragments;
  /** The float64 element rule of one step. */
  element64(step: Step64): (e: Element64) => ElementOut64;
}

/** An element whose BCE is weighted by `w`, in float64: `weightedBceWgsl`'s twin. */
export function weightedBce64(e: Element64, w: number): ElementOut64 {
  const g = w * e.d;
  return { w, l: w * e.bce, g, stat: Math.abs(g) };
}
