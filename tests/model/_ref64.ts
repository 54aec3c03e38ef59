/**
 * Float64 references of the detector's layers (NCHW), written from the
 * definitions, for the model-part tests: each returns its output and
 * records the smallest |input| any ReLU saw, so a test can keep its random
 * draw away from the kinks where finite differences are not derivatives.
 */

/** A float64 tensor: data and shape. */
export interface T64 {
  data: Float64Array;
  shape: number[];
}

/** Named float64 parameters, as the ParamStore names them. */
export type Params64 = Map<string, Float64Array>;

/** The smallest |x| seen by relu64 since the last reset. */
export const reluMargin = { min: Infinity };

/** Convolution with zero padding `pad`, stride `stride`, optional bias. */
export function conv64(x: T64, w: T64, bias: Float64Array | null, stride: number, pad: number): T64 {
  const [N, C, H, W] = x.shape, [K, , KH, KW] = w.shape;
  const OH = Math.floor((H + 2 * pad - KH) / stride) + 1, OW = Math.floor((W + 2 * pad - KW) / stride) + 1;
  const y = new Float64Array(N * K * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = bias ? bias[k] : 0;
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < KH; i++) {
              const h = oh * stride - pad + i;
              if (h < 0 || h >= H) continue;
              for (let j = 0; j < KW; j++) {
                const v = ow * stride - pad + j;
                if (v < 0 || v >= W) continue;
                s += x.data[((n * C + c) * H + h) * W + v] * w.data[((k * C + c) * KH + i) * KW + j];
              }
            }
          }
          y[((n * K + k) * OH + oh) * OW + ow] = s;
        }
      }
    }
  }
  return { data: y, shape: [N, K, OH, OW] };
}

/** Group norm over (C / G) x spatial, biased variance, eps 1e-5 as the op's default. */
export function groupNorm64(x: T64, groups: number, weight: Float64Array, bias: Float64Array, eps = 1e-5): T64 {
  const [N, C] = x.shape, hw = x.data.length / (N * C), m = (C / groups) * hw;
  const y = new Float64Array(x.data.length);
  for (let k = 0; k < N * groups; k++) {
    const seg = x.data.subarray(k * m, (k + 1) * m);
    const mean = seg.reduce((a, v) => a + v, 0) / m;
    const variance = seg.reduce((a, v) => a + (v - mean) ** 2, 0) / m;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let j = 0; j < m; j++) {
      const c = (k % groups) * (C / groups) + Math.floor(j / hw);
      y[k * m + j] = (seg[j] - mean) * inv * weight[c] + bias[c];
    }
  }
  return { data: y, shape: x.shape };
}

export function relu64(x: T64): T64 {
  for (const v of x.data) reluMargin.min = Math.min(reluMargin.min, Math.abs(v));
  return { data: x.data.map((v) => Math.max(v, 0)), shape: x.shape };
}

export function add64(a: T64, b: T64): T64 {
  return { data: a.data.map((v, i) => v + b.data[i]), shape: a.shape };
}

export function upsample2x64(x: T64): T64 {
  const [N, C, H, W] = x.shape, y = new Float64Array(N * C * 4 * H * W);
  for (let p = 0; p < N * C; p++) {
    for (let h = 0; h < 2 * H; h++) {
      for (let w = 0; w < 2 * W; w++) y[(p * 2 * H + h) * 2 * W + w] = x.data[(p * H + (h >> 1)) * W + (w >> 1)];
    }
  }
  return { data: y, shape: [N, C, 2 * H, 2 * W] };
}

/** `layers.ts` linear: x [N, din] @ w^T + b, w [dout, din] as torchvision lays it out. */
export function linear64(x: T64, w: Float64Array, b: Float64Array): T64 {
  const [N, din] = x.shape, dout = b.length, y = new Float64Array(N * dout);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < dout; o++) {
      let s = b[o];
      for (let i = 0; i < din; i++) s += x.data[n * din + i] * w[o * din + i];
      y[n * dout + o] = s;
    }
  }
  return { data: y, shape: [N, dout] };
}

/** `layers.ts` conv: k x k, "same" padding (k - 1) / 2, parameters `${name}.weight` / `.bias`. */
export function layerConv64(
  ps: Params64,
  name: string,
  x: T64,
  s: { cin: number; cout: number; k: number; stride?: number; bias?: boolean },
): T64 {
  const w = { data: ps.get(`${name}.weight`)!, shape: [s.cout, s.cin, s.k, s.k] };
  return conv64(x, w, s.bias ? ps.get(`${name}.bias`)! : null, s.stride ?? 1, (s.k - 1) >> 1);
}

/** `layers.ts` gn. */
export function layerGn64(ps: Params64, name: string, x: T64, groups: number): T64 {
  return groupNorm64(x, groups, ps.get(`${name}.weight`)!, ps.get(`${name}.bias`)!);
}

/** `layers.ts` convGnRelu. */
export function layerConvGnRelu64(
  ps: Params64,
  name: string,
  normName: string,
  x: T64,
  s: { cin: number; cout: number; k: number; stride?: number; bias?: boolean },
  groups: number,
): T64 {
  return relu64(layerGn64(ps, normName, layerConv64(ps, name, x, s), groups));
}
