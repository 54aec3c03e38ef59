/** Smooth L1 box loss (detectron2's `smooth_l1_loss`, reduction "sum", then over a normaliser). */
import { smoothL1BackwardKernel, smoothL1ForwardKernel, type SmoothL1Params } from "../kernels/smooth_l1.ts";
import { record } from "../tensor/autograd.ts";
import { sum } from "../tensor/ops.ts";
import { rt, Tensor } from "../tensor/tensor.ts";

export interface SmoothL1Options {
  /**
   * Per row, the block of 4 prediction columns to regress (class, or 0 if agnostic); negative (background,
   * unsampled anchor) leaves the row out. An i32 tensor [N] or host array.
   */
  block: Tensor | ArrayLike<number>;
  /** Quadratic region half-width; 0 gives plain L1 (detectron2 uses 0 for both heads by default). */
  beta: number;
  /** The summed loss is divided by this, e.g. the number of sampled RoIs or anchors. */
  normalizer: number;
}

/**
 * sum over rows with block[n] >= 0 of smoothL1(pred[n, 4k:4k+4] - target[n]), k = block[n], / `normalizer`.
 * Gradients flow to `pred` only.
 * @param pred [N, D] predicted deltas, D = 4 * blocks.
 * @param target [N, 4] target deltas.
 */
export function smoothL1Loss(pred: Tensor, target: Tensor, opts: SmoothL1Options): Tensor {
  const [rows, cols] = pred.shape;
  if (pred.shape.length !== 2 || cols % 4 !== 0 || cols === 0) {
    throw new Error(`smoothL1Loss pred must be [N, 4k], got [${pred.shape}]`);
  }
  if (target.shape.join() !== `${rows},4`) {
    throw new Error(`smoothL1Loss target must be [${rows}, 4], got [${target.shape}]`);
  }
  if (!(opts.normalizer > 0)) throw new Error(`smoothL1Loss normalizer must be positive, got "${opts.normalizer}"`);
  const block = opts.block instanceof Tensor ? opts.block : Tensor.from(opts.block, [opts.block.length], "i32");
  if (block.shape.join() !== `${rows}` || block.dtype !== "i32") {
    throw new Error(`smoothL1Loss block must be i32 [${rows}], got ${block}`);
  }
  const p: SmoothL1Params = { cols, beta: opts.beta, rows };
  const u = new Uint32Array([rows, 0]);
  new Float32Array(u.buffer)[1] = 1 / opts.normalizer;
  const perRow = new Tensor([rows]);
  const r = rt();
  if (rows > 0) r.dispatch(smoothL1ForwardKernel, p, [pred.buffer, target.buffer, block.buffer, perRow.buffer], u);
  record(perRow, "smoothL1", [pred, target], (g) => {
    const dp = new Tensor(pred.shape);
    if (rows > 0) {
      r.dispatch(smoothL1BackwardKernel, p, [g.buffer, pred.buffer, target.buffer, block.buffer, dp.buffer], u);
    }
    return [dp, null];
  });
  return sum(perRow);
}
