/**
 * Smooth L1 box regression loss as a differentiable op (detectron2's
 * `smooth_l1_loss` with reduction "sum", then divided by a normaliser).
 */
import { smoothL1BackwardKernel, smoothL1ForwardKernel, type SmoothL1Params } from "../kernels/smooth_l1.ts";
import { record } from "../tensor/autograd.ts";
import { sum } from "../tensor/ops.ts";
import { rt, Tensor } from "../tensor/tensor.ts";

/** Options of `smoothL1Loss`. */
export interface SmoothL1Options {
  /**
   * Per row, which block of 4 prediction columns to regress: the RoI's class
   * for class-specific heads, 0 for class-agnostic ones; a negative value
   * (background, unsampled anchor) leaves the row out. An i32 tensor [N] or host array.
   */
  block: Tensor | ArrayLike<number>;
  /** Quadratic region half-width; 0 gives plain L1 (detectron2 uses 0 for both heads by default). */
  beta: number;
  /** The summed loss is divided by this, e.g. the number of sampled RoIs or anchors. */
  normalizer: number;
}

/**
 * sum over rows n with block[n] >= 0 of smoothL1(pred[n, 4k:4k+4] - target[n]), k = block[n],
 * divided by `normalizer`. Gradients flow to `pred` only.
 *
 * @param pred [N, D] predicted deltas, D = 4 * blocks.
 * @param target [N, 4] target deltas.
 * @returns A scalar tensor (shape []).
 * @example
 * ```ts
 * import { initTensors, Tensor } from "../tensor/tensor.ts";
 * import { smoothL1Loss } from "./smooth_l1.ts";
 * await initTensors();
 * const pred = Tensor.from([0, 0, 0, 2, 9, 9, 9, 9], [2, 4]);
 * const target = Tensor.from([0, 0, 0, 0, 0, 0, 0, 0], [2, 4]);
 * const loss = smoothL1Loss(pred, target, { block: [0, -1], beta: 1, normalizer: 2 }); // (2 - 0.5) / 2 = 0.75
 * ```
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
