/** 2-D convolution (NCHW) and its input, weight and bias gradients. */
import {
  conv2dKernel,
  type Conv2dParams,
  conv2dTiles,
  type ConvGeometry,
  convOutSize,
  paddedWidth,
} from "../kernels/conv2d.ts";
import {
  conv2dWeightGradKernel,
  type Conv2dWeightGradParams,
  conv2dWeightGradSplitKernel,
  splitCount,
  splitPartialLength,
  weightGradSumKernel,
} from "../kernels/conv2d_grad.ts";
import { currentGemmVariant } from "../kernels/gemm_choice.ts";
import { convWeightCols, convWeightKernel, padPlanesKernel } from "../kernels/conv2d_layout.ts";
import { isGradEnabled, record } from "./autograd.ts";
import { conv2dGemm } from "./ops_conv_gemm.ts";
import { contiguousStrides, relu, sum, zeros } from "./ops.ts";
import { concat, slice } from "./ops_shape.ts";
import { copyKernel } from "../kernels/copy.ts";
import { rt, Tensor } from "./tensor.ts";

type Pair = number | [number, number];

export interface Conv2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  relu?: boolean;
}

const pair = (v: Pair | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === "number" ? [v, v] : v;

function padPlanes(
  x: Tensor,
  o: { outH: number; outW: number; top: number; left: number; sy?: number; sx?: number },
): Tensor {
  const [N, C, H, W] = x.shape;
  const { sy = 1, sx = 1 } = o;
  if (o.top === 0 && o.left === 0 && sy === 1 && sx === 1 && o.outH === H && o.outW === W) return x;
  if (o.outW % 4 !== 0) throw new Error(`Padded planes need a width that is a multiple of 4, got ${o.outW}`);
  const out = new Tensor([N, C, o.outH, o.outW]);
  const p = { planes: N * C, inH: H, inW: W, outH: o.outH, outW: o.outW, top: o.top, left: o.left, sy, sx };
  rt().dispatch(padPlanesKernel, p, [x.buffer, out.buffer]);
  return out;
}

function weightLayout(w: Tensor, flip: boolean, colsPerBlock?: number): Tensor {
  const [K, C, KH, KW] = w.shape;
  const p = { K, C, KH, KW, flip, colsPerBlock };
  const out = new Tensor([(flip ? K : C) * KH * KW, convWeightCols(p)]);
  rt().dispatch(convWeightKernel, p, [w.buffer, out.buffer]);
  return out;
}

let uniformScratch: GPUBuffer | null = null;

/**
 * How convolutions run, for benchmarks and tests that need a particular path; the figures
 * behind each default are in BENCHMARKS.md.
 * - `weightGradSplit`: split dW's N x OH rows across invocations; "auto": on CPU adapters.
 * - `weightGradSplitLanes`: invocations the split aims for (16 per CPU core).
 * - `implicitPad`: a stride-1 input gradient pads dY as it reads it, not in a pass.
 * - `minChunkChannels`: fewer input channels per 64 KiB weight chunk read from storage.
 * - `gemmMinWeights`: layers with this many weights run as GEMM (`Infinity`: never).
 * - `gemmColumnsBudget`: most im2col values laid out at once (64 MiB; a binding holds 128).
 * - `weightGradMinChunkFlop`: dW work per dY chunk below which dY is read from storage.
 * @example
 * ```ts
 * conv2dTuning.weightGradMinChunkFlop = 0; // always stream dY through the uniform buffer where a row fits
 * ```
 */
export const conv2dTuning: {
  weightGradMinChunkFlop: number;
  weightGradSplit: "auto" | boolean;
  weightGradSplitLanes: number;
  implicitPad: boolean;
  minChunkChannels: number;
  gemmMinWeights: number;
  gemmColumnsBudget: number;
} = {
  minChunkChannels: 16,
  gemmMinWeights: 65536,
  gemmColumnsBudget: 1 << 24,
  weightGradMinChunkFlop: 16e6,
  weightGradSplit: "auto",
  weightGradSplitLanes: 16 * (navigator.hardwareConcurrency || 2),
  implicitPad: true,
};

/** WebGPU guarantees 64 KiB. */
function uniformBytes(): number {
  return Math.min(65536, rt().device.limits.maxUniformBufferBindingSize);
}

/** Shared: the queue runs copies and dispatches in order. Several bound at once crashed Deno's WebGPU on llvmpipe. */
function uniformScratchBuffer(): GPUBuffer {
  uniformScratch ??= rt().device.createBuffer({
    size: uniformBytes(),
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    label: "conv2d uniform chunk",
  });
  return uniformScratch;
}

/** The weight streams through a uniform buffer (faster loads on llvmpipe), whole or in chunks. */
function convPadded(
  xp: Tensor,
  w: Tensor,
  flip: boolean,
  bias: Tensor | null,
  p: Omit<Conv2dParams, "bias" | "N" | "C" | "Hp" | "Wp">,
): Tensor {
  const [N, C, Hp, Wp] = xp.shape;
  const out = new Tensor([N, p.K, p.OH, p.OW]);
  const base = { ...p, N, C, Hp, Wp };
  const vec4s = uniformBytes() / 16, rows = C * p.KH * p.KW, cols4 = Math.ceil(p.K / 4);
  const { tm } = conv2dTiles(p);
  const kn = Math.floor(vec4s / (rows * (tm / 4))) * tm;
  const scratch = uniformScratchBuffer();
  if (rows * cols4 > vec4s && kn >= tm) {
    const wl = weightLayout(w, flip, kn);
    const bufs = [xp.buffer, scratch, ...(bias ? [bias.buffer] : []), out.buffer];
    const params = { ...base, bias: !!bias, kCount: kn, wUniform: rows * kn / 4, offsetsUniform: true };
    for (let k0 = 0; k0 < p.K; k0 += kn) {
      rt().copy(wl.buffer, scratch, rows * kn * 4, k0 * rows * 4, 0);
      rt().dispatch(conv2dKernel, params, bufs, new Uint32Array([0, k0]));
    }
    wl.dispose();
    return out;
  }
  const wl = weightLayout(w, flip);
  const rowVec4s = p.KH * p.KW * cols4;
  const perChunk = Math.floor(vec4s / rowVec4s);
  // Chunks of a few channels cost a dispatch each for little work: read such weights from storage.
  if (perChunk < Math.min(C, conv2dTuning.minChunkChannels)) {
    const bufs = [xp.buffer, wl.buffer, ...(bias ? [bias.buffer] : []), out.buffer];
    rt().dispatch(conv2dKernel, { ...base, bias: !!bias }, bufs);
    wl.dispose();
    return out;
  }
  for (let c0 = 0; c0 < C; c0 += perChunk) {
    const cn = Math.min(perChunk, C - c0);
    rt().copy(wl.buffer, scratch, cn * rowVec4s * 16, c0 * rowVec4s * 16, 0);
    const first = c0 === 0;
    const bufs = [xp.buffer, scratch, ...(first && bias ? [bias.buffer] : []), out.buffer];
    const params = {
      ...base,
      bias: first && !!bias,
      cn,
      accumulate: !first,
      wUniform: cn * rowVec4s,
      offsetsUniform: true,
    };
    rt().dispatch(conv2dKernel, params, bufs, new Uint32Array([c0, 0]));
  }
  wl.dispose();
  return out;
}

function weightGradPadding(g: ConvGeometry): { Hp: number; Wp: number; OW4: number } {
  const OW4 = Math.ceil(convOutSize(g)[1] / 4) * 4;
  const Wp = paddedWidth({ minWidth: g.W + 2 * g.pw, OW: OW4, tn: 4, sw: g.sw, KW: g.KW, dw: g.dw });
  return { Hp: g.H + 2 * g.ph, Wp, OW4 };
}

/** With `keepPadded`, returns the padded input too, so the backward does not pad it again. */
function conv2dRaw(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  keepPadded = false,
): { out: Tensor; xp: Tensor | null } {
  const [OH, OW] = convOutSize(g);
  const { tn } = conv2dTiles({ K: g.K, OW });
  const forward = paddedWidth({ minWidth: g.W + 2 * g.pw, OW, tn, sw: g.sw, KW: g.KW, dw: g.dw });
  const Wp = keepPadded ? Math.max(forward, weightGradPadding(g).Wp) : forward;
  const xp = padPlanes(x, { outH: g.H + 2 * g.ph, outW: Wp, top: g.ph, left: g.pw });
  const out = convPadded(xp, w, false, bias, { ...g, OH, OW });
  if (keepPadded) return { out, xp };
  if (xp !== x) xp.dispose();
  return { out, xp: null };
}

/** dX: a stride-1 convolution of the zero-inserted, padded dY with the flipped weight. */
function conv2dInputGrad(dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const tn = conv2dTiles({ K: g.C, OW: g.W }).tn;
  const top = (g.KH - 1) * g.dh - g.ph, left = (g.KW - 1) * g.dw - g.pw;
  const implicit = conv2dTuning.implicitPad && g.sh === 1 && g.sw === 1 && top >= 0 && left >= 0 &&
    dy.shape[3] % 4 === 0;
  const u = implicit ? dy : padPlanes(dy, {
    outH: g.H + (g.KH - 1) * g.dh,
    outW: paddedWidth({ minWidth: g.W + (g.KW - 1) * g.dw, OW: g.W, tn, sw: 1, KW: g.KW, dw: g.dw }),
    top,
    left,
    sy: g.sh,
    sx: g.sw,
  });
  const geo = {
    K: g.C,
    KH: g.KH,
    KW: g.KW,
    sh: 1,
    sw: 1,
    dh: g.dh,
    dw: g.dw,
    OH: g.H,
    OW: g.W,
    ...(implicit ? { implicitPad: { top, left } } : {}),
  };
  const dx = convPadded(u, w, true, null, geo);
  if (u !== dy) u.dispose();
  return dx;
}

/** Rows [N * OH][K][OW4], zero beyond OW: each (n, oh) row contiguous for chunking. */
function dyRows(dy: Tensor, OW4: number): Tensor {
  const [N, K, OH, OW] = dy.shape;
  const out = OW4 === OW ? new Tensor([N * OH, K, OW4]) : zeros([N * OH, K, OW4]);
  rt().dispatch(copyKernel, {
    shape: [N, K, OH, OW],
    srcOffset: 0,
    srcStrides: contiguousStrides([N, K, OH, OW]),
    dstOffset: 0,
    dstStrides: [OH * K * OW4, OW4, K * OW4, 1],
  }, [dy.buffer, out.buffer]);
  return out;
}

/** dW from the input as the forward padded and kept it (`xp`); the path is chosen by `conv2dTuning`. */
function conv2dWeightGrad(xp: Tensor, dy: Tensor, g: ConvGeometry, withBias: boolean): [Tensor, Tensor | null] {
  const [OH, OW] = convOutSize(g);
  const { Hp, OW4 } = weightGradPadding(g);
  const Wp = xp.shape[3];
  const dw = new Tensor([g.K, g.C, g.KH, g.KW]);
  const db = withBias ? new Tensor([g.K]) : null;
  const dwBufs = db ? [dw.buffer, db.buffer] : [dw.buffer];
  const p: Conv2dWeightGradParams = {
    bias: withBias,
    N: g.N,
    C: g.C,
    K: g.K,
    Hp,
    Wp,
    OH,
    OW4,
    KH: g.KH,
    KW: g.KW,
    sh: g.sh,
    sw: g.sw,
    dh: g.dh,
    dw: g.dw,
  };
  const rowBytes = g.K * OW4 * 4;
  const rows = g.N * OH;
  const chunkRows = Math.min(Math.floor(uniformBytes() / rowBytes), rows);
  const chunkFlop = 2 * chunkRows * OW * g.K * g.C * g.KH * g.KW;
  const split = conv2dTuning.weightGradSplit === "auto"
    ? currentGemmVariant() === "blocked"
    : conv2dTuning.weightGradSplit;
  if (split || chunkRows === 0 || chunkFlop < conv2dTuning.weightGradMinChunkFlop) {
    const dy4 = padPlanes(dy, { outH: OH, outW: OW4, top: 0, left: 0 });
    if (split) splitWeightGrad(xp, dy4, p, dw, db);
    else rt().dispatch(conv2dWeightGradKernel, p, [xp.buffer, dy4.buffer, ...dwBufs]);
    if (dy4 !== dy) dy4.dispose();
  } else {
    const dyr = dyRows(dy, OW4);
    const scratch = uniformScratchBuffer();
    for (let r0 = 0; r0 < rows; r0 += chunkRows) {
      const n = Math.min(chunkRows, rows - r0);
      rt().copy(dyr.buffer, scratch, n * rowBytes, r0 * rowBytes, 0);
      const u = new Uint32Array([r0, n, r0 > 0 ? 1 : 0, 0]);
      rt().dispatch(conv2dWeightGradKernel, { ...p, dyChunkRows: chunkRows }, [xp.buffer, scratch, ...dwBufs], u);
    }
    dyr.dispose();
  }
  return [dw, db];
}

function splitWeightGrad(xp: Tensor, dy4: Tensor, p: Conv2dWeightGradParams, dw: Tensor, db: Tensor | null): void {
  const splits = splitCount(p, conv2dTuning.weightGradSplitLanes), sp = { ...p, splits };
  const partial = new Tensor([splits, splitPartialLength(sp)]);
  rt().dispatch(conv2dWeightGradSplitKernel, sp, [xp.buffer, dy4.buffer, partial.buffer]);
  const sums = { splits, weights: p.K * p.C * p.KH * p.KW, biases: db ? p.K : 0 };
  rt().dispatch(weightGradSumKernel, sums, [partial.buffer, dw.buffer, ...(db ? [db.buffer] : [])]);
  partial.dispose();
}

/**
 * 2-D convolution of x [N, Cin, H, W] with w [Cout, Cin, KH, KW] (groups = 1).
 *
 * @param x Input, NCHW.
 * @param w Weight, [Cout, Cin, KH, KW].
 * @param opts Bias [Cout], and stride, zero padding and dilation as one number or [height, width].
 * @returns The output, NCHW.
 * @example
 * ```ts
 * const y = conv2d(x, w, { bias: b, stride: 2, padding: 1 }); // 3x3 weight: H -> ceil(H / 2)
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  if (x.shape.length !== 4 || w.shape.length !== 4) {
    throw new Error(`conv2d takes a 4-D input and weight, got [${x.shape.join(", ")}] and [${w.shape.join(", ")}]`);
  }
  const [N, C, H, W] = x.shape;
  const [K, Cw, KH, KW] = w.shape;
  if (Cw !== C) throw new Error(`conv2d weight [${w.shape.join(", ")}] expects ${Cw} input channels, got ${C}`);
  const bias = opts.bias ?? null;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== K)) {
    throw new Error(`conv2d bias must be [${K}], got [${bias.shape.join(", ")}]`);
  }
  const [sh, sw] = pair(opts.stride, 1), [ph, pw] = pair(opts.padding, 0), [dh, dw] = pair(opts.dilation, 1);
  const g: ConvGeometry = { N, C, H, W, K, KH, KW, sh, sw, ph, pw, dh, dw };
  const [OH, OW] = convOutSize(g);
  if (OH < 1 || OW < 1) {
    throw new Error(`conv2d output would be ${OH}x${OW} for input ${H}x${W} and kernel ${KH}x${KW}`);
  }
  if (K * C * KH * KW >= conv2dTuning.gemmMinWeights) {
    // The columns of one image must fit the budget; a batch whose columns do not runs in chunks.
    const perImage = C * KH * KW * OH * OW;
    const fits = Math.floor(conv2dTuning.gemmColumnsBudget / Math.max(1, perImage));
    if (fits >= N) return conv2dGemm(x, w, bias, { ...g, OH, OW, relu: opts.relu });
    if (fits >= 1) {
      const parts: Tensor[] = [];
      for (let n0 = 0; n0 < N; n0 += fits) parts.push(conv2d(slice(x, [n0], [Math.min(N, n0 + fits)]), w, opts));
      return concat(parts, 0);
    }
  }
  if (opts.relu) return relu(conv2d(x, w, { ...opts, relu: false }));
  const { out, xp } = conv2dRaw(x, w, bias, g, isGradEnabled() && w.requiresGrad);
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(out, "conv2d", inputs, (dy) => {
    const dx = x.requiresGrad ? conv2dInputGrad(dy, w, g) : null;
    const withBias = !!bias?.requiresGrad;
    const [dw, db] = w.requiresGrad && xp ? conv2dWeightGrad(xp, dy, g, withBias) : [null, null];
    return [dx, dw, withBias ? db ?? sum(dy, [0, 2, 3]) : null];
  });
}
