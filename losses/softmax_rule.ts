// A softmax loss's rule, read by both `SoftmaxLoss` and `softmaxReference`.
import type { LossState, StepInput64, StepOutput64 } from "./loss.ts";

/** Softmax-family state: per-category |gradient| sums (length C) and cumulative label counts (length C + 1). */
export interface SoftmaxState64 {
  pos_grad: Float64Array;
  neg_grad: Float64Array;
  cum_samples: Float64Array;
}

export interface SoftmaxRule {
  name: string;
  numClasses: number;
  columns: number;
  lossWeight: number;
  /** Before each step, its labels are added to the cumulative counts (Seesaw). */
  countsLabels: boolean;
  /** `avgFactor` divides the loss (ce); false: the loss averages over rows itself (Seesaw). */
  takesAvgFactor: boolean;
  /** Floats of constants the row pass leaves per row, a multiple of 4. */
  rowStride: number;
  rowPass: { decls: string; body: string };
  fusedPass(width: 1 | 4): { setup: string; body: string };
  /** The inference rule: score columns and `lossScoresKernel`'s body; with `constants` it reads `Cum` as `K`. */
  scores: { columns: number; body: string; constants?: boolean };
  /**
   * What the host writes to `Cum` before each step where a loss needs more than label counts (BAGS: groups, group
   * scales, sampled rows); such a loss takes its labels as an Int32Array.
   */
  stepInputs?: StepInputs;
  /** One float64 step: updates `cum_samples` where the loss counts labels; returns the step's statistics. */
  step64(state: SoftmaxState64, input: StepInput64): StepOutput64;
  scores64(logits: ArrayLike<number>): Float64Array;
}

export interface StepInputs {
  /** The buffer's content before any step: what `scores` reads. */
  initial: Float32Array;
  forStep(labels: Int32Array): Float32Array;
  state?(): Partial<LossState>;
  loadState?(state: LossState): void;
}
