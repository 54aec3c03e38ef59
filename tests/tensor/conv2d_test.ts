import { assertClose, gpuTest, numericGrad, randomArray, read64, rng } from "../_util.ts";
import { poisonPool } from "./_poison.ts";
import { Tensor, tidy } from "../../tensor/tensor.ts";
import { backward } from "../../tensor/ops.ts";
import { conv2d, conv2dTuning } from "../../tensor/ops_conv.ts";
import { conv2dTiles } from "../../kernels/conv2d.ts";
import { configureGemm, currentGemmVariant } from "../../kernels/gemm_choice.ts";
import assert from "node:assert/strict";

interface Case {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  KH: number;
  KW: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  bias: boolean;
  /** Stream dY through the uniform buffer however little work a chunk holds. */
  chunked?: boolean;
}

/** Run `fn` with the tuning a case asks for, restoring the defaults after. */
function withTuning<T>(c: Case, fn: () => T): T {
  const saved = { ...conv2dTuning };
  if (c.chunked) conv2dTuning.weightGradMinChunkFlop = 0;
  try {
    return fn();
  } finally {
    Object.assign(conv2dTuning, saved);
  }
}

const CASES: Case[] = [
  { N: 2, C: 3, H: 7, W: 9, K: 5, KH: 3, KW: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
  { N: 1, C: 4, H: 10, W: 11, K: 6, KH: 3, KW: 3, stride: [2, 2], padding: [1, 1], dilation: [1, 1], bias: false },
  { N: 2, C: 2, H: 9, W: 8, K: 3, KH: 3, KW: 2, stride: [1, 2], padding: [2, 0], dilation: [2, 1], bias: true },
  { N: 1, C: 3, H: 13, W: 6, K: 9, KH: 5, KW: 5, stride: [3, 3], padding: [2, 2], dilation: [1, 1], bias: true },
  { N: 2, C: 5, H: 3, W: 5, K: 2, KH: 1, KW: 1, stride: [1, 1], padding: [0, 0], dilation: [1, 1], bias: true },
  // Padding wider than the kernel reach: the input gradient crops the padded dY instead of padding it.
  { N: 1, C: 2, H: 4, W: 5, K: 3, KH: 1, KW: 1, stride: [2, 1], padding: [1, 1], dilation: [1, 1], bias: true },
  // Cin and Cout large enough that the weight is split into several 64 KiB uniform chunks.
  { N: 1, C: 30, H: 4, W: 5, K: 64, KH: 3, KW: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
  // The same with rows of whole vec4s: the second chunk adds into vec4 outputs.
  {
    N: 1,
    C: 30,
    H: 3,
    W: 8,
    K: 64,
    KH: 3,
    KW: 3,
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    bias: true,
  },
  // dY rows stream through the uniform buffer in two chunks, the second partial.
  {
    N: 1,
    C: 1,
    H: 20,
    W: 7,
    K: 128,
    KH: 3,
    KW: 3,
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    bias: false,
    chunked: true,
  },
  // The same with a bias: the second chunk adds into the weight and bias gradients.
  {
    N: 1,
    C: 1,
    H: 20,
    W: 7,
    K: 128,
    KH: 3,
    KW: 3,
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    bias: true,
    chunked: true,
  },
  // Rows of whole vec4s: padding loads 2 aligned vec4s per 4 pixels (offsets 1 and 2), and the input gradient crops.
  { N: 2, C: 3, H: 6, W: 12, K: 4, KH: 3, KW: 3, stride: [1, 1], padding: [1, 3], dilation: [1, 1], bias: true },
  { N: 1, C: 2, H: 5, W: 8, K: 3, KH: 3, KW: 5, stride: [1, 1], padding: [1, 2], dilation: [1, 1], bias: true },
  // A first layer: few input channels, 16 or more output channels (not a multiple of the 8-channel tiles), stride 1
  // and 2.
  { N: 2, C: 3, H: 10, W: 12, K: 16, KH: 3, KW: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
  { N: 2, C: 3, H: 11, W: 13, K: 17, KH: 3, KW: 3, stride: [2, 2], padding: [1, 1], dilation: [1, 1], bias: false },
  // A dY row too wide for a uniform buffer: the weight gradient reads dY from storage.
  { N: 1, C: 1, H: 2, W: 260, K: 64, KH: 1, KW: 3, stride: [1, 1], padding: [0, 1], dilation: [1, 1], bias: false },
  // A weight row (KH*KW*Cout) too large for a uniform buffer: the forward reads the weight from storage.
  { N: 1, C: 1, H: 7, W: 7, K: 336, KH: 7, KW: 7, stride: [1, 1], padding: [0, 0], dilation: [1, 1], bias: true },
];

function outSize(c: Case): [number, number] {
  return [
    Math.floor((c.H + 2 * c.padding[0] - c.dilation[0] * (c.KH - 1) - 1) / c.stride[0]) + 1,
    Math.floor((c.W + 2 * c.padding[1] - c.dilation[1] * (c.KW - 1) - 1) / c.stride[1]) + 1,
  ];
}

/** The float64 reference convolution. */
function conv64(c: Case, x: Float64Array, w: Float64Array, b: Float64Array | null): Float64Array {
  const [OH, OW] = outSize(c);
  const y = new Float64Array(c.N * c.K * OH * OW);
  for (let n = 0; n < c.N; n++) {
    for (let k = 0; k < c.K; k++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b[k] : 0;
          for (let ci = 0; ci < c.C; ci++) {
            for (let kh = 0; kh < c.KH; kh++) {
              const ih = oh * c.stride[0] - c.padding[0] + kh * c.dilation[0];
              if (ih < 0 || ih >= c.H) continue;
              for (let kw = 0; kw < c.KW; kw++) {
                const iw = ow * c.stride[1] - c.padding[1] + kw * c.dilation[1];
                if (iw < 0 || iw >= c.W) continue;
                s += x[((n * c.C + ci) * c.H + ih) * c.W + iw] * w[((k * c.C + ci) * c.KH + kh) * c.KW + kw];
              }
            }
          }
          y[((n * c.K + k) * OH + oh) * OW + ow] = s;
        }
      }
    }
  }
  return y;
}

const describe = (c: Case) =>
  `${c.N}x${c.C}x${c.H}x${c.W} -> ${c.K} k${c.KH}x${c.KW} s${c.stride} p${c.padding} d${c.dilation}`;

gpuTest("conv2d() matches a float64 convolution for strides, padding, dilation and chunked weights", async () => {
  const r = rng(11);
  for (const c of CASES) {
    const x = randomArray(r, c.N * c.C * c.H * c.W);
    const w = randomArray(r, c.K * c.C * c.KH * c.KW);
    const b = c.bias ? randomArray(r, c.K) : null;
    const want = conv64(c, x, w, b);
    poisonPool(want.length);
    const got = await withTuning(c, () =>
      tidy(() => {
        const tb = b ? Tensor.from(b, [c.K]) : null;
        const opts = { bias: tb, stride: c.stride, padding: c.padding, dilation: c.dilation };
        return conv2d(Tensor.from(x, [c.N, c.C, c.H, c.W]), Tensor.from(w, [c.K, c.C, c.KH, c.KW]), opts);
      })).toArray();
    // f32 sums of C*KH*KW products of magnitude <= 1: rounding grows like sqrt(terms) * 6e-8.
    const terms = c.C * c.KH * c.KW;
    assertClose(got, want, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(terms) }, `conv2d ${describe(c)}`);
  }
});

gpuTest("conv2d() gradients of x, w and bias match finite differences", async () => {
  const r = rng(12);
  for (const c of CASES) {
    const [OH, OW] = outSize(c);
    const x = randomArray(r, c.N * c.C * c.H * c.W);
    const w = randomArray(r, c.K * c.C * c.KH * c.KW);
    const b = randomArray(r, c.K);
    const seed = randomArray(r, c.N * c.K * OH * OW);
    // L = sum(seed * conv(x, w) + b): linear in each argument, so central differences are exact up to f64 rounding.
    const loss = () => conv64(c, x, w, c.bias ? b : null).reduce((s, v, i) => s + v * seed[i], 0);
    const tx = Tensor.from(x, [c.N, c.C, c.H, c.W]).requireGrad();
    const tw = Tensor.from(w, [c.K, c.C, c.KH, c.KW]).requireGrad();
    const tb = Tensor.from(b, [c.K]).requireGrad();
    poisonPool(x.length);
    poisonPool(w.length);
    withTuning(c, () =>
      tidy(() => {
        const y = conv2d(tx, tw, {
          bias: c.bias ? tb : null,
          stride: c.stride,
          padding: c.padding,
          dilation: c.dilation,
        });
        backward(y, Tensor.from(seed, y.shape));
      }));
    // L is linear in every entry, so a random sample of entries checks as much as all of them.
    const pick = (n: number) => n <= 150 ? undefined : Array.from({ length: 150 }, () => r.int(n));
    const ix = pick(x.length), iw = pick(w.length);
    const wantX = numericGrad(loss, x, 1e-3, ix), wantW = numericGrad(loss, w, 1e-3, iw);
    const gx = await read64(tx.grad!), gw = await read64(tw.grad!);
    const sel = (a: Float64Array, idx?: number[]) => idx ? idx.map((i) => a[i]) : Array.from(a);
    // Each gradient entry sums up to K*KH*KW (dx) or N*OH*OW (dw) f32 products of magnitude <= 1.
    const tolX = { rtol: 1e-4, atol: 4e-6 * Math.sqrt(c.K * c.KH * c.KW) };
    const tolW = { rtol: 1e-4, atol: 4e-6 * Math.sqrt(c.N * OH * OW) };
    assertClose(sel(gx, ix), sel(wantX, ix), tolX, `dx ${describe(c)}`);
    assertClose(sel(gw, iw), sel(wantW, iw), tolW, `dw ${describe(c)}`);
    if (c.bias) {
      const wantB = numericGrad(loss, b, 1e-3);
      assertClose(await read64(tb.grad!), wantB, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.N * OH * OW) }, "db");
    } else {
      assertClose([tb.grad === null ? 1 : 0], [1], {}, "no bias gradient without a bias");
    }
    for (const t of [tx, tw, tb, tx.grad, tw.grad, tb.grad]) t?.dispose();
  }
});

Deno.test("conv2d tiles: 16 output channels per invocation on a CPU adapter, 8 on a GPU", () => {
  const prev = currentGemmVariant();
  try {
    configureGemm("blocked");
    assert.equal(conv2dTiles({ K: 64, OW: 32 }).tm, 16);
    assert.equal(conv2dTiles({ K: 5, OW: 32 }).tm, 8); // rounded up to whole vec4s
    assert.equal(conv2dTiles({ K: 64, OW: 32, tm: 4 }).tm, 4);
    configureGemm("tiled");
    assert.equal(conv2dTiles({ K: 64, OW: 32 }).tm, 8);
  } finally {
    configureGemm(prev);
  }
});
