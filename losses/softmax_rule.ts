/**
 * What a softmax-family loss's file gives the shared GPU loss (`SoftmaxLoss`:
 * label counts, row pass, fused pass, scores) and float64 reference (`softmaxReference`).
 */
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
  /** Logit columns: C + 1 for ce, C + 2 for Seesaw. */
  columns: number;
  lossWeight: number;
  /** Before each step, its labels are added to the cumulative counts (Seesaw). */
  countsLabels: boolean;
  /** `avgFactor` divides the loss (ce); false: the loss averages over rows itself (Seesaw). */
  takesAvgFactor: boolean;
  /** Floats of constants the row pass leaves per row, a multiple of 4. */
  rowStride: number;
  /** The loss's part of the row pass (see `SoftmaxRowParams`). */
  rowPass: { decls: string; body: string };
  /** The loss's part of the fused pass for `width` elements per invocation (see `SoftmaxFusedParams`). */
  fusedPass(width: 1 | 4): { setup: string; body: string };
  /**
   * The inference rule: score columns per row and the WGSL body of `lossScoresKernel`; with
   * `constants`, the body also reads the `Cum` buffer as `K` (BAGS: each column's group).
   */
  scores: { columns: number; body: string; constants?: boolean };
  /**
   * What the host writes to the passes' `Cum` buffer before each step, where a loss needs more
   * than label counts (BAGS: each column's group, per-group scales, the sampled rows); such a
   * loss takes its labels as an Int32Array.
   */
  stepInputs?: StepInputs;
  /**
   * One float64 step: updates `cum_samples` where the loss counts labels and returns this
   * step's statistics, which the reference then adds to the state.
   */
  step64(state: SoftmaxState64, input: StepInput64): StepOutput64;
  /** Test-time scores in float64, laid out as `scores`. */
  scores64(logits: ArrayLike<number>): Float64Array;
}

/** Host-made per-step inputs of a softmax-family loss, in the buffer bound as `Cum`. */
export interface StepInputs {
  /** The buffer's content before any step: what `scores` reads. */
  initial: Float32Array;
  /** The buffer's content for a step with these labels. */
  forStep(labels: Int32Array): Float32Array;
  /** State to checkpoint with the loss (a sampler's generator). */
  state?(): Partial<LossState>;
  loadState?(state: LossState): void;
}
