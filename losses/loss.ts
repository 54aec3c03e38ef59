// The interface of every classification loss for the training loop, and of its float64 reference for tests.
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
  grad: Tensor;
  weight: Tensor | null;
}

/**
 * Per-category sums over steps of |d loss_ij / d x_ij| (without loss_weight and 1/avgFactor), split by target, as
 * plotted in the EQL v2 paper; EFL keeps, as its reference's backward hook does, the actual logits gradient.
 */
export interface GradStats {
  pos_grad: Float64Array;
  neg_grad: Float64Array;
}

export interface LossState {
  loss: string;
  num_classes: number;
  pos_grad: number[];
  neg_grad: number[];
  /** pos_grad / (neg_grad + 1e-10): EQL v2's ratio, EFL's clamped g_j. */
  ratio: number[];
  cum_samples?: number[];
  rng?: number[];
}

/**
 * Sums a step's statistics `stepStats` ([2, C]: positive, negative) over data-parallel workers in place;
 * commands it queues run before the state update.
 */
export type AllReduceHook = (stepStats: Tensor) => void;

export interface ClassificationLoss {
  readonly name: string;
  readonly numClasses: number;
  /** Logit columns: C + 1 (bce, eqlv2, ce, federated), C (eql, focal, efl), C + 2 (seesaw). */
  readonly columns: number;
  allReduce: AllReduceHook | null;
  /** One step, queued on the GPU; `labels` i32 in [0, C] (C = background), an Int32Array checked on the host. */
  forward(logits: Tensor, labels: Tensor | Int32Array, opts?: ForwardOptions): LossStep;
  /** Throws an InputError if any logit seen so far was NaN/infinite or a label out of range (one small read). */
  check(): Promise<void>;
  /** Test-time scores [N, C + 1] (C without a background column); the caller drops column C before NMS. */
  scores(logits: Tensor): Tensor;
  gradStats(): Promise<GradStats>;
  state(): Promise<LossState>;
  loadState(state: LossState): void;
  dispose(): void;
}

export interface StepInput64 {
  logits: ArrayLike<number>;
  labels: ArrayLike<number>;
  avgFactor?: number;
}

export interface StepOutput64 {
  loss: number;
  grad: Float64Array;
  weight: Float64Array;
  /** This step's statistics before they are added to the state (length C each). */
  step_pos: Float64Array;
  step_neg: Float64Array;
}

/** A loss's float64 reference: tests compare the GPU loss with it step by step, state carried. */
export interface ReferenceLoss {
  readonly columns: number;
  /** pos_grad, neg_grad and ratio (sigmoid family) or cum_samples (softmax family), updated by `step`. */
  readonly state: { pos_grad: Float64Array; neg_grad: Float64Array; ratio?: Float64Array; cum_samples?: Float64Array };
  step(input: StepInput64): StepOutput64;
  scores(logits: ArrayLike<number>): Float64Array;
}
