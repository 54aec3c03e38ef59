/**
 * The interface every classification loss implements for the training
 * loop (a fused forward that records its backward, checkpointable state,
 * gradient statistics for plots and test-time scores), and the one its
 * float64 reference implements for tests.
 */
import type { Tensor } from "../tensor/tensor.ts";

export interface ForwardOptions {
  /** Divides the summed loss (default: the number of rows; dense heads pass the number of positives). */
  avgFactor?: number;
  /** Also return the per-element weights actually applied (costs one more write per element). */
  weights?: boolean;
}

export interface LossStep {
  /** Scalar loss (shape []); `backward(loss)` scales `grad` by the incoming gradient. */
  loss: Tensor;
  /** d loss / d logits [N, columns], written by the forward kernel. */
  grad: Tensor;
  /** Per-element weights [N, columns] when asked for, else null. */
  weight: Tensor | null;
}

/**
 * Per-category accumulated gradient magnitudes (length C), as plotted in the EQL v2 paper:
 * sums over steps of |d loss_ij / d x_ij| without loss_weight and 1/avgFactor, split by
 * target (EQL v2: |sigma - t| w, its own state). EFL keeps, as its reference does from a
 * backward hook, the actual logits gradient, normaliser included.
 */
export interface GradStats {
  pos_grad: Float64Array;
  neg_grad: Float64Array;
}

/** Checkpointable state: plain JSON. */
export interface LossState {
  loss: string;
  num_classes: number;
  pos_grad: number[];
  neg_grad: number[];
  /** pos_grad / (neg_grad + 1e-10): EQL v2's ratio, EFL's clamped g_j. */
  ratio: number[];
  /** Seesaw's cumulative label counts (length C + 1). */
  cum_samples?: number[];
  /** Federated sampler's generator state. */
  rng?: number[];
}

/**
 * Sums this step's statistics across data-parallel workers in place before
 * they are added to the state: `stepStats` is [2, C] (row 0 positive, row 1
 * negative) and must hold the sums over all workers when the hook returns
 * (commands it queues run before the state update).
 */
export type AllReduceHook = (stepStats: Tensor) => void;

export interface ClassificationLoss {
  readonly name: string;
  /** C, foreground categories. */
  readonly numClasses: number;
  /**
   * Logit columns the loss expects: C + 1 (bce, eqlv2, ce, federated), C (eql, focal, efl,
   * bce without background channel), C + 2 (seesaw).
   */
  readonly columns: number;
  /** Set to sum statistics across workers; null for one worker. */
  allReduce: AllReduceHook | null;
  /**
   * One step: loss, gradient, statistics and state update, all queued on the GPU.
   * `labels` are i32 in [0, C], C = background; an Int32Array is validated on the host.
   */
  forward(logits: Tensor, labels: Tensor | Int32Array, opts?: ForwardOptions): LossStep;
  /** Throws an InputError if any logit seen so far was NaN/infinite or a label out of range (one small read). */
  check(): Promise<void>;
  /**
   * Test-time scores [N, C + 1] (C for layouts without a background column); the caller drops
   * column C before NMS. EQL v2 with test_with_obj: s_j = sigma(x_j) (1 - sigma(x_C)).
   */
  scores(logits: Tensor): Tensor;
  gradStats(): Promise<GradStats>;
  state(): Promise<LossState>;
  loadState(state: LossState): void;
  dispose(): void;
}

/** One step's input to a float64 reference. */
export interface StepInput64 {
  /** Row-major [rows, columns]. */
  logits: ArrayLike<number>;
  labels: ArrayLike<number>;
  /** Divides the summed loss; the number of rows by default. */
  avgFactor?: number;
}

/** One step of a float64 reference. */
export interface StepOutput64 {
  loss: number;
  grad: Float64Array;
  weight: Float64Array;
  /** This step's statistics before they are added to the state (length C each). */
  step_pos: Float64Array;
  step_neg: Float64Array;
}

/**
 * A loss's float64 reference: what tests and debugging compare the GPU loss
 * against, step by step with the state carried.
 */
export interface ReferenceLoss {
  readonly columns: number;
  /**
   * Per-category state, updated in place by `step`: pos_grad and neg_grad, and ratio (sigmoid
   * family) or cum_samples (softmax family).
   */
  readonly state: { pos_grad: Float64Array; neg_grad: Float64Array; ratio?: Float64Array; cum_samples?: Float64Array };
  step(input: StepInput64): StepOutput64;
  /** Test-time scores, laid out as the GPU loss's `scores`. */
  scores(logits: ArrayLike<number>): Float64Array;
}
