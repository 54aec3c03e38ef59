import { gpuTest, randomArray, rng, SEED } from "../_util.ts";
import type { Rng } from "../../core/rng.ts";
import { checkOp } from "./_check.ts";
import { conv2d, conv2dTuning } from "../../tensor/ops_conv.ts";

type Geo = {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  k: [number, number];
  s: number;
  /** Padding along height and width. */
  p: [number, number];
  d: number;
};

/** Convolution by its definition, in float64. */
function conv64(x: Float64Array, w: Float64Array, b: Float64Array | null, g: Geo): Float64Array {
  const [KH, KW] = g.k;
  const [ph, pw] = g.p;
  const OH = Math.floor((g.H + 2 * ph - g.d * (KH - 1) - 1) / g.s) + 1;
  const OW = Math.floor((g.W + 2 * pw - g.d * (KW - 1) - 1) / g.s) + 1;
  const y = new Float64Array(g.N * g.K * OH * OW);
  for (let n = 0; n < g.N; n++) {
    for (let k = 0; k < g.K; k++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? b[k] : 0;
          for (let c = 0; c < g.C; c++) {
            for (let kh = 0; kh < KH; kh++) {
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * g.s - ph + kh * g.d, iw = ow * g.s - pw + kw * g.d;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                acc += x[((n * g.C + c) * g.H + ih) * g.W + iw] * w[((k * g.C + c) * KH + kh) * KW + kw];
              }
            }
          }
          y[((n * g.K + k) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return y;
}

/** The finite-difference step of the gradient checks below. */
const EPS = 1e-3;

/**
 * Inputs, weights and bias in [-1, 1), f32-exact. With a ReLU they are
 * redrawn until every pre-activation lies at least 2 * EPS from 0: a step of
 * EPS in one entry moves each pre-activation by at most EPS (every factor is
 * below 1 in magnitude), so no difference quotient straddles the kink, where
 * it is not a derivative.
 */
function drawAwayFromKink(
  r: Rng,
  g: Geo,
  xs: number[],
  ws: number[],
  withBias: boolean,
  relu: boolean,
): [Float64Array, Float64Array, Float64Array | null] {
  const size = (s: number[]) => s.reduce((a, v) => a * v, 1);
  for (let attempt = 0; attempt < 20; attempt++) {
    const x = randomArray(r, size(xs)).map(Math.fround);
    const w = randomArray(r, size(ws)).map(Math.fround);
    const b = withBias ? randomArray(r, g.K).map(Math.fround) : null;
    if (!relu || conv64(x, w, b, g).every((v) => Math.abs(v) >= 2 * EPS)) return [x, w, b];
  }
  throw new Error(`no draw keeps every pre-activation ${2 * EPS} from 0 (seed ${SEED})`);
}

gpuTest("conv2d() as GEMM over im2col columns (with a fused ReLU) matches float64, gradients included", async () => {
  const r = rng(71);
  const cases: Geo[] = [
    // 1x1 stride 1: the columns are the input itself.
    { N: 2, C: 6, H: 5, W: 7, K: 5, k: [1, 1], s: 1, p: [0, 0], d: 1 },
    // 1x1 stride 2 (ResNet's downsampling shortcut).
    { N: 2, C: 5, H: 7, W: 6, K: 3, k: [1, 1], s: 2, p: [0, 0], d: 1 },
    // 3x3 "same", stride 2, dilation 2, a 3x1 kernel, and a one-image batch.
    { N: 2, C: 3, H: 6, W: 9, K: 4, k: [3, 3], s: 1, p: [1, 1], d: 1 },
    { N: 1, C: 4, H: 9, W: 7, K: 6, k: [3, 3], s: 2, p: [1, 1], d: 1 },
    { N: 2, C: 2, H: 8, W: 8, K: 3, k: [3, 3], s: 1, p: [2, 2], d: 2 },
    { N: 1, C: 3, H: 7, W: 5, K: 2, k: [3, 1], s: 1, p: [1, 0], d: 1 },
  ];
  const saved = conv2dTuning.gemmMinWeights;
  conv2dTuning.gemmMinWeights = 0;
  try {
    for (const g of cases) {
      for (const [withBias, relu] of [[true, false], [false, false], [true, true]]) {
        const xs = [g.N, g.C, g.H, g.W], ws = [g.K, g.C, ...g.k];
        const [x, w, b] = drawAwayFromKink(r, g, xs, ws, withBias, relu);
        await checkOp({
          name: `conv2d GEMM [${xs}] -> ${g.K} k${g.k} s${g.s} p${g.p} d${g.d}${withBias ? " bias" : ""}${
            relu ? " relu" : ""
          }`,
          inputs: [
            { data: x, shape: xs, grad: true },
            { data: w, shape: ws, grad: true },
            ...(b ? [{ data: b, shape: [g.K], grad: true }] : []),
          ],
          op: ([x, w, b]) => conv2d(x, w, { bias: b ?? null, stride: g.s, padding: g.p, dilation: g.d, relu }),
          ref: ([x, w, b]) => conv64(x, w, b ?? null, g).map((v) => relu ? Math.max(v, 0) : v),
          // Sums of C*KH*KW (forward, dx: K*KH*KW; dw: N*OH*OW) f32 products of values in [-1, 1].
          tol: { rtol: 1e-5, atol: 1e-5 },
          gradTol: { rtol: 1e-4, atol: 1e-4 },
          eps: EPS,
          rng: r,
        });
      }
    }
  } finally {
    conv2dTuning.gemmMinWeights = saved;
  }
});
