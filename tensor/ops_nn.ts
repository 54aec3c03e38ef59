/** Neural-network ops on NCHW tensors, each with its backward beside it. */
import {
  avgPoolGlobalReluBackwardKernel,
  avgPoolGlobalReluKernel,
  maxPoolBackwardKernel,
  maxPoolKernel,
  type MaxPoolParams,
  maxPoolTiledBackwardKernel,
  maxPoolTiledKernel,
  maxPoolTiles,
} from "../kernels/pool.ts";
import { upsampleNearest2xBackwardKernel, upsampleNearest2xKernel } from "../kernels/upsample.ts";
import {
  groupNormApplyKernel,
  groupNormBackwardInputKernel,
  groupNormBackwardStatsKernel,
  groupNormParamGradKernel,
  type GroupNormParams,
  groupNormStatsKernel,
} from "../kernels/group_norm.ts";
import {
  softmaxBackwardKernel,
  softmaxCrossEntropyBackwardKernel,
  softmaxCrossEntropyKernel,
  softmaxKernel,
} from "../kernels/softmax.ts";
import { full, mean, reduceRaw } from "./ops.ts";
import { record } from "./autograd.ts";
import { rt, Tensor } from "./tensor.ts";

export { conv2d, type Conv2dOptions } from "./ops_conv.ts";

type Pair = number | [number, number];
const pair = (v: Pair, what: string): [number, number] => {
  const p: [number, number] = typeof v === "number" ? [v, v] : v;
  if (!p.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${what} must be whole numbers, got ${p}`);
  return p;
};

function need4d(x: Tensor, op: string): [number, number, number, number] {
  if (x.shape.length !== 4) throw new Error(`${op} takes an NCHW tensor, got [${x.shape.join(", ")}]`);
  return x.shape as unknown as [number, number, number, number];
}

export interface MaxPool2dOptions {
  stride?: Pair;
  /** At most half the kernel; padded cells never win. */
  padding?: Pair;
  /** Pool relu(x) in the same pass, gradient included. */
  relu?: boolean;
}

/**
 * The gradient goes to the first maximum of each window.
 * @example
 * ```ts
 * const y = maxPool2d(x, 3, { stride: 2, padding: 1 }); // ResNet stem: 56 -> 28
 * ```
 */
export function maxPool2d(x: Tensor, kernel: Pair, opts: MaxPool2dOptions = {}): Tensor {
  const [N, C, H, W] = need4d(x, "maxPool2d");
  const [KH, KW] = pair(kernel, "maxPool2d kernel");
  const [sh, sw] = pair(opts.stride ?? [KH, KW], "maxPool2d stride");
  const [ph, pw] = pair(opts.padding ?? 0, "maxPool2d padding");
  if (KH < 1 || KW < 1 || sh < 1 || sw < 1 || 2 * ph > KH || 2 * pw > KW) {
    throw new Error(`maxPool2d kernel ${KH}x${KW}, stride ${sh}x${sw}, padding ${ph}x${pw} is not valid`);
  }
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1, OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`maxPool2d of ${H}x${W} with a ${KH}x${KW} window leaves nothing`);
  const p: MaxPoolParams = { planes: N * C, H, W, OH, OW, KH, KW, sh, sw, ph, pw, relu: !!opts.relu };
  const out = new Tensor([N, C, OH, OW]);
  const arg = new Tensor([N, C, OH, OW], "u32");
  rt().dispatch(maxPoolTiles(p) ? maxPoolTiledKernel : maxPoolKernel, p, [x.buffer, out.buffer, arg.buffer]);
  if (!x.requiresGrad) arg.dispose();
  return record(out, opts.relu ? "maxPool2d_relu" : "maxPool2d", [x], (g) => {
    const gx = new Tensor(x.shape);
    const kernel = maxPoolTiles(p) ? maxPoolTiledBackwardKernel : maxPoolBackwardKernel;
    // The backward only reads the argmax (relu already cleared it where no gradient passes).
    rt().dispatch(kernel, { ...p, relu: false }, [g.buffer, arg.buffer, gx.buffer]);
    return [gx];
  });
}

export interface AvgPoolGlobalOptions {
  relu?: boolean;
}

/**
 * [N, C, H, W] -> [N, C, 1, 1].
 * @example
 * ```ts
 * const pooled = avgPoolGlobal(features, { relu: true }); // one pass each way instead of two
 * ```
 */
export function avgPoolGlobal(x: Tensor, opts: AvgPoolGlobalOptions = {}): Tensor {
  const [N, C, H, W] = need4d(x, "avgPoolGlobal");
  if (!opts.relu) return mean(x, [2, 3], true);
  const p = { planes: N * C, HW: H * W };
  const out = new Tensor([N, C, 1, 1]);
  if (out.size === 0 || p.HW === 0) throw new Error(`avgPoolGlobal of [${x.shape.join(", ")}] has nothing to pool`);
  rt().dispatch(avgPoolGlobalReluKernel, p, [x.buffer, out.buffer]);
  return record(out, "avgPoolGlobal_relu", [x], (g) => {
    const gx = new Tensor(x.shape);
    rt().dispatch(avgPoolGlobalReluBackwardKernel, p, [x.buffer, g.buffer, gx.buffer]);
    return [gx];
  });
}

/**
 * [N, C, H, W] -> [N, C, 2H, 2W].
 * @example
 * ```ts
 * const lateral = add(c4, upsampleNearest2x(p5));
 * ```
 */
export function upsampleNearest2x(x: Tensor): Tensor {
  const [N, C, H, W] = need4d(x, "upsampleNearest2x");
  const p = { planes: N * C, H, W };
  const out = new Tensor([N, C, 2 * H, 2 * W]);
  rt().dispatch(upsampleNearest2xKernel, p, [x.buffer, out.buffer]);
  return record(out, "upsampleNearest2x", [x], (g) => {
    const gx = new Tensor(x.shape);
    rt().dispatch(upsampleNearest2xBackwardKernel, p, [g.buffer, gx.buffer]);
    return [gx];
  });
}

export interface GroupNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/**
 * Group normalization of x [N, C, ...], then a per-channel affine map.
 * @example
 * ```ts
 * const y = groupNorm(x, 32, { weight: gamma, bias: beta }); // detectron2 "GN"
 * ```
 */
export function groupNorm(x: Tensor, groups: number, opts: GroupNormOptions = {}): Tensor {
  if (x.shape.length < 2) throw new Error(`groupNorm takes [N, C, ...], got [${x.shape.join(", ")}]`);
  const [N, C] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) {
    throw new Error(`groupNorm: ${C} channels do not split into ${groups} groups`);
  }
  for (const t of [opts.weight, opts.bias]) {
    if (t && (t.shape.length !== 1 || t.shape[0] !== C)) {
      throw new Error(`groupNorm weight and bias must be [${C}], got [${t.shape.join(", ")}]`);
    }
  }
  if (N * groups > 65535 || C > 65535) throw new Error(`groupNorm: ${N}x${groups} groups exceed one dispatch`);
  const p: GroupNormParams = { N, C, G: groups, HW: x.size / (N * C), eps: opts.eps ?? 1e-5 };
  const weight = opts.weight ?? full([C], 1), bias = opts.bias ?? full([C], 0);
  const stats = new Tensor([N * groups, 2]);
  const out = new Tensor(x.shape);
  rt().dispatch(groupNormStatsKernel, p, [x.buffer, stats.buffer]);
  rt().dispatch(groupNormApplyKernel, p, [x.buffer, stats.buffer, weight.buffer, bias.buffer, out.buffer]);
  if (!opts.bias) bias.dispose();
  const inputs = [x, opts.weight, opts.bias].filter((t): t is Tensor => !!t);
  record(out, "groupNorm", inputs, (g) => {
    const grads: (Tensor | null)[] = [];
    if (x.requiresGrad) {
      const t = new Tensor([N * groups, 2]);
      rt().dispatch(groupNormBackwardStatsKernel, p, [x.buffer, stats.buffer, g.buffer, weight.buffer, t.buffer]);
      const gx = new Tensor(x.shape);
      rt().dispatch(groupNormBackwardInputKernel, p, [
        x.buffer,
        stats.buffer,
        g.buffer,
        weight.buffer,
        t.buffer,
        gx.buffer,
      ]);
      t.dispose();
      grads.push(gx);
    } else grads.push(null);
    if (opts.weight || opts.bias) {
      const dg = new Tensor([C]), db = new Tensor([C]);
      rt().dispatch(groupNormParamGradKernel, p, [x.buffer, stats.buffer, g.buffer, dg.buffer, db.buffer]);
      if (opts.weight) grads.push(dg);
      else dg.dispose();
      if (opts.bias) grads.push(db);
      else db.dispose();
    }
    return grads;
  });
  if (!out.node) {
    stats.dispose();
    if (!opts.weight) weight.dispose();
  }
  return out;
}

function softmaxOp(x: Tensor, log: boolean): Tensor {
  if (x.shape.length === 0) throw new Error(`${log ? "logSoftmax" : "softmax"} needs at least one axis`);
  const D = x.shape[x.shape.length - 1];
  const p = { rows: x.size / D, D, log };
  const out = new Tensor(x.shape);
  if (out.size > 0) rt().dispatch(softmaxKernel, p, [x.buffer, out.buffer]);
  return record(out, log ? "logSoftmax" : "softmax", [x], (g) => {
    const gx = new Tensor(x.shape);
    if (gx.size > 0) rt().dispatch(softmaxBackwardKernel, p, [out.buffer, g.buffer, gx.buffer]);
    return [gx];
  });
}

/**
 * @example
 * ```ts
 * const probs = softmax(logits); // [R, 1204] class scores per box
 * ```
 */
export function softmax(x: Tensor): Tensor {
  return softmaxOp(x, false);
}

/**
 * Stable: the row maximum is subtracted first.
 * @example
 * ```ts
 * const logp = logSoftmax(logits);
 * ```
 */
export function logSoftmax(x: Tensor): Tensor {
  return softmaxOp(x, true);
}

/**
 * Mean over rows of -sum_j target * logSoftmax(logits), as torch's `cross_entropy` with
 * probability targets; one fused pass each way instead of ten small dispatches.
 * @example
 * ```ts
 * const loss = softmaxCrossEntropy(logits, oneHot); // logits and oneHot [B, classes] -> scalar
 * ```
 */
export function softmaxCrossEntropy(logits: Tensor, target: Tensor): Tensor {
  if (logits.shape.length === 0 || target.shape.join() !== logits.shape.join()) {
    throw new Error(
      `softmaxCrossEntropy takes logits and targets of one shape with at least one axis, got [${
        logits.shape.join(", ")
      }] and [${target.shape.join(", ")}]`,
    );
  }
  const D = logits.shape[logits.shape.length - 1];
  const p = { rows: logits.size / D, D };
  if (p.rows === 0 || D === 0) throw new Error(`softmaxCrossEntropy of [${logits.shape.join(", ")}] has no rows`);
  const rowLoss = new Tensor([p.rows]), stats = new Tensor([p.rows, 2]);
  rt().dispatch(softmaxCrossEntropyKernel, p, [logits.buffer, target.buffer, rowLoss.buffer, stats.buffer]);
  const out = reduceRaw(rowLoss, "sum", [0], 1 / p.rows);
  rowLoss.dispose();
  if (!logits.requiresGrad && !target.requiresGrad) stats.dispose();
  return record(out, "softmaxCrossEntropy", [logits, target], (g) => {
    const dx = new Tensor(logits.shape), dt = target.requiresGrad ? new Tensor(target.shape) : null;
    const bufs = [logits.buffer, target.buffer, stats.buffer, g.buffer, dx.buffer, ...(dt ? [dt.buffer] : [])];
    rt().dispatch(softmaxCrossEntropyBackwardKernel, { ...p, target: !!dt }, bufs);
    return [dx, dt];
  });
}
