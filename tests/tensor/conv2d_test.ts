import { assertClose, gpuTest, numericGrad, randomArray, read64, rng } from "../_util.ts";
import { poisonPool } from "./_poison.ts";
import { Tensor, tidy } from "../../tensor/tensor.ts";
import { backward } from "../../tensor/ops.ts";
import { conv2d, conv2dTuning } from "../../tensor/ops_conv.ts";
import { conv2dTiles, conv2dUnrollsRows, paddedWidth } from "../../kernels/conv2d.ts";
import {
  conv2dWeightGradSplitKernel,
  type Conv2dWeightGradSplitParams,
  splitCount,
  splitPartialLength,
  splitWeightGradTiles,
  weightGradSumKernel,
} from "../../kernels/conv2d_grad.ts";
import { rt } from "../../tensor/tensor.ts";
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

/**
 * Run `fn` with the tuning a case asks for, restoring the defaults after; `split` picks the
 * weight gradient's kernel (rows split across invocations, or one invocation per block).
 */
function withTuning<T>(c: Case, fn: () => T, split: "auto" | boolean = "auto", implicitPad = true): T {
  const saved = { ...conv2dTuning };
  conv2dTuning.weightGradSplit = split;
  conv2dTuning.implicitPad = implicitPad;
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
  // So many input channels that one tile of output channels' weights exceeds 64 KiB: chunks of input channels
  // that add into the output.
  { N: 1, C: 240, H: 2, W: 4, K: 8, KH: 3, KW: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
  // Chunks of input channels would hold fewer than conv2dTuning.minChunkChannels: the weight is read from storage.
  { N: 1, C: 120, H: 3, W: 5, K: 128, KH: 3, KW: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
  // Cin and Cout large enough that the weight is split into 64 KiB uniform chunks of output channels.
  { N: 1, C: 30, H: 4, W: 5, K: 64, KH: 3, KW: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
  // The same with rows of whole vec4s.
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
  // Stride 1 with dY rows of whole vec4s: the input gradient pads dY as it reads it, from 4 columns to the left (a
  // whole vec4) or 2 (dilation 2).
  { N: 1, C: 2, H: 6, W: 8, K: 3, KH: 3, KW: 5, stride: [1, 1], padding: [0, 0], dilation: [1, 1], bias: true },
  { N: 2, C: 3, H: 7, W: 12, K: 5, KH: 3, KW: 3, stride: [1, 1], padding: [2, 2], dilation: [2, 2], bias: false },
  // A dY row too wide for a uniform buffer: the weight gradient reads dY from storage.
  { N: 1, C: 1, H: 2, W: 260, K: 64, KH: 1, KW: 3, stride: [1, 1], padding: [0, 1], dilation: [1, 1], bias: false },
  // One past every tile: output channels 16 + 1 (CPU forward tiles; the GPUs' 8 + 8 + 1), output and input
  // columns 16 + 3 (column tiles), input channels 16 + 1 (input gradient) and 4 x 4 + 1 (weight gradient).
  { N: 1, C: 17, H: 5, W: 19, K: 17, KH: 3, KW: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
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

/** Exact float64 gradients of L = sum(seed * conv(x, w) + b): the adjoint, tap by tap. */
function convGrads64(c: Case, x: Float64Array, w: Float64Array, seed: Float64Array) {
  const [OH, OW] = outSize(c);
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length), db = new Float64Array(c.K);
  for (let n = 0; n < c.N; n++) {
    for (let k = 0; k < c.K; k++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const g = seed[((n * c.K + k) * OH + oh) * OW + ow];
          db[k] += g;
          for (let ci = 0; ci < c.C; ci++) {
            for (let kh = 0; kh < c.KH; kh++) {
              const ih = oh * c.stride[0] - c.padding[0] + kh * c.dilation[0];
              if (ih < 0 || ih >= c.H) continue;
              for (let kw = 0; kw < c.KW; kw++) {
                const iw = ow * c.stride[1] - c.padding[1] + kw * c.dilation[1];
                if (iw < 0 || iw >= c.W) continue;
                const xi = ((n * c.C + ci) * c.H + ih) * c.W + iw, wi = ((k * c.C + ci) * c.KH + kh) * c.KW + kw;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db };
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

// The CPU adapters' kernels (split weight gradient, unrolled kernel rows, 16-channel tiles) and the GPUs' (one
// invocation per weight block, rows in a loop, 8-channel tiles), with the input gradient's two ways of padding dY.
for (const split of [false, true]) {
  const how = split
    ? "the CPU adapters' kernels, dY padded as read"
    : "the GPUs' kernels (run here on the CPU adapter), dY padded by a pass";
  gpuTest(`conv2d() gradients of x, w and bias match finite differences with ${how}`, async () => {
    const prev = currentGemmVariant();
    configureGemm(split ? "blocked" : "tiled");
    try {
      await checkGradients(split ? 13 : 12, split);
    } finally {
      configureGemm(prev);
    }
  });
}

async function checkGradients(salt: number, split: boolean): Promise<void> {
  const r = rng(salt);
  // The uniform-buffer chunks of dY are the other weight-gradient path's.
  for (const c of CASES.filter((c) => !split || !c.chunked)) {
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
    withTuning(
      c,
      () =>
        tidy(() => {
          const y = conv2d(tx, tw, {
            bias: c.bias ? tb : null,
            stride: c.stride,
            padding: c.padding,
            dilation: c.dilation,
          });
          backward(y, Tensor.from(seed, y.shape));
        }),
      split,
      split,
    );
    // The float64 adjoint is the exact gradient of L; it is checked against central differences (exact
    // for a linear L up to rounding) on every entry of small tensors and on 150 entries, drawn from the
    // test's seed, of larger ones. The GPU's gradients are then compared with it on every entry.
    const want = convGrads64(c, x, w, seed);
    const pick = (n: number) => n <= 400 ? undefined : Array.from({ length: 150 }, () => r.int(n));
    const ix = pick(x.length), iw = pick(w.length);
    const sel = (a: Float64Array, idx?: number[]) => idx ? idx.map((i) => a[i]) : Array.from(a);
    const EXACT = { rtol: 1e-9, atol: 1e-9 };
    assertClose(sel(want.dx, ix), sel(numericGrad(loss, x, 1e-3, ix), ix), EXACT, `float64 dx ${describe(c)}`);
    assertClose(sel(want.dw, iw), sel(numericGrad(loss, w, 1e-3, iw), iw), EXACT, `float64 dw ${describe(c)}`);
    // Each gradient entry sums up to K*KH*KW (dx) or N*OH*OW (dw) f32 products of magnitude <= 1.
    const tolX = { rtol: 1e-4, atol: 4e-6 * Math.sqrt(c.K * c.KH * c.KW) };
    const tolW = { rtol: 1e-4, atol: 4e-6 * Math.sqrt(c.N * OH * OW) };
    assertClose(await read64(tx.grad!), want.dx, tolX, `dx ${describe(c)}`);
    assertClose(await read64(tw.grad!), want.dw, tolW, `dw ${describe(c)}`);
    if (c.bias) {
      assertClose(want.db, numericGrad(loss, b, 1e-3), EXACT, `float64 db ${describe(c)}`);
      assertClose(await read64(tb.grad!), want.db, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.N * OH * OW) }, "db");
    } else {
      assertClose([tb.grad === null ? 1 : 0], [1], {}, "no bias gradient without a bias");
    }
    for (const t of [tx, tw, tb, tx.grad, tw.grad, tb.grad]) t?.dispose();
  }
}

Deno.test("conv2d tiles: 16 output channels per invocation and unrolled kernel rows on a CPU adapter, 8 and a loop on a GPU", () => {
  const prev = currentGemmVariant();
  try {
    configureGemm("blocked");
    assert.equal(conv2dTiles({ K: 64, OW: 32 }).tm, 16);
    assert.equal(conv2dTiles({ K: 5, OW: 32 }).tm, 8); // rounded up to whole vec4s
    assert.equal(conv2dTiles({ K: 64, OW: 32, tm: 4 }).tm, 4);
    assert.ok(conv2dUnrollsRows({ KH: 3 }));
    assert.ok(!conv2dUnrollsRows({ KH: 5 }));
    configureGemm("tiled");
    assert.equal(conv2dTiles({ K: 64, OW: 32 }).tm, 8);
    assert.ok(!conv2dUnrollsRows({ KH: 3 }));
  } finally {
    configureGemm(prev);
  }
});

/** Float64 weight and bias gradients straight from a padded input Xp and a dY whose rows are OW4 wide. */
function weightGrad64(
  p: Conv2dWeightGradSplitParams,
  xp: Float64Array,
  dy: Float64Array,
): [Float64Array, Float64Array] {
  const dw = new Float64Array(p.K * p.C * p.KH * p.KW), db = new Float64Array(p.K);
  for (let n = 0; n < p.N; n++) {
    for (let k = 0; k < p.K; k++) {
      for (let oh = 0; oh < p.OH; oh++) {
        for (let ow = 0; ow < p.OW4; ow++) {
          const d = dy[((n * p.K + k) * p.OH + oh) * p.OW4 + ow];
          db[k] += d;
          for (let c = 0; c < p.C; c++) {
            for (let kh = 0; kh < p.KH; kh++) {
              const row = ((n * p.C + c) * p.Hp + oh * p.sh + kh * p.dh) * p.Wp;
              for (let kw = 0; kw < p.KW; kw++) {
                dw[((k * p.C + c) * p.KH + kh) * p.KW + kw] += d * xp[row + ow * p.sw + kw * p.dw];
              }
            }
          }
        }
      }
    }
  }
  return [dw, db];
}

gpuTest("split weight gradient: uneven parts and tiles that do not divide the channels match float64", async () => {
  const r = rng(14);
  const base = { sh: 1, sw: 1, dh: 1, dw: 1, bias: true };
  const cases: (Omit<Conv2dWeightGradSplitParams, "Hp" | "Wp">)[] = [
    // 10 rows in parts of 4, 4, 2; 7 output channels in tiles of 3, 5 input channels in tiles of 2.
    { ...base, N: 2, C: 5, K: 7, OH: 5, OW4: 8, KH: 3, KW: 3, splits: 3, tm: 3, tc: 2 },
    // Stride and dilation; one row per part; no bias.
    { ...base, N: 1, C: 3, K: 4, OH: 6, OW4: 4, KH: 2, KW: 3, sh: 2, sw: 2, dh: 2, splits: 6, bias: false },
    // One part holding every row, the default tiles (16 x 4 for 3 x 3), more channels than one tile.
    { ...base, N: 2, C: 6, K: 18, OH: 3, OW4: 12, KH: 3, KW: 3, splits: 1 },
    // A 1 x 5 kernel with dilation along width.
    { ...base, N: 3, C: 2, K: 5, OH: 2, OW4: 4, KH: 1, KW: 5, dw: 2, splits: 4, tm: 2 },
  ];
  for (const c of cases) {
    const Hp = (c.OH - 1) * c.sh + (c.KH - 1) * c.dh + 1;
    const Wp = paddedWidth({ minWidth: 0, OW: c.OW4, tn: 4, sw: c.sw, KW: c.KW, dw: c.dw });
    const p = { ...c, Hp, Wp };
    const xp = randomArray(r, p.N * p.C * Hp * Wp), dy = randomArray(r, p.N * p.K * p.OH * p.OW4);
    const [wantW, wantB] = weightGrad64(p, xp, dy);
    const L = splitPartialLength(p);
    const poison = (n: number) => rt().upload(new Float32Array(n).fill(NaN));
    const bufs = [rt().upload(Float32Array.from(xp)), rt().upload(Float32Array.from(dy))];
    const part = poison(p.splits * L), dw = poison(wantW.length), db = poison(p.K);
    rt().dispatch(conv2dWeightGradSplitKernel, p, [...bufs, part]);
    const sums = { splits: p.splits, weights: wantW.length, biases: p.bias ? p.K : 0 };
    rt().dispatch(weightGradSumKernel, sums, [part, dw, ...(p.bias ? [db] : [])]);
    const gotW = await rt().readF32(dw, wantW.length), gotB = await rt().readF32(db, p.K);
    const terms = p.N * p.OH * p.OW4, tol = { rtol: 1e-5, atol: 4e-6 * Math.sqrt(terms) };
    const what = `N${p.N} C${p.C} K${p.K} ${p.OH}x${p.OW4} k${p.KH}x${p.KW} splits ${p.splits}`;
    assertClose(gotW, wantW, tol, `split dW ${what}`);
    if (p.bias) assertClose(gotB, wantB, tol, `split dB ${what}`);
    else assert.ok(gotB.every(Number.isNaN), `no bias gradient written without a bias (${what})`);
    for (const b of [...bufs, part, dw, db]) rt().release(b);
  }
});

Deno.test("split weight gradient tiles keep ~576 accumulators, and every part holds rows", () => {
  const tiles = (K: number, C: number, KH: number, KW: number) => {
    const t = splitWeightGradTiles({ K, C, KH, KW });
    return [t.tm, t.tc];
  };
  assert.deepEqual(tiles(64, 32, 3, 3), [16, 4]);
  assert.deepEqual(tiles(16, 3, 3, 3), [16, 3]);
  assert.deepEqual(tiles(256, 256, 7, 7), [11, 1]);
  assert.deepEqual(tiles(64, 64, 1, 1), [16, 4]);
  assert.deepEqual(tiles(5, 2, 3, 3), [5, 2]);
  const g = { N: 8, OH: 64, K: 16, C: 3, KH: 3, KW: 3 };
  assert.equal(splitCount(g, 128), 128);
  // 7 rows cannot make 5 non-empty parts of equal length: 4 parts of 2 (the last of 1).
  assert.equal(splitCount({ ...g, N: 1, OH: 7 }, 5), 4);
  assert.equal(splitCount({ ...g, N: 1, OH: 7 }, 1000), 7);
  assert.equal(splitCount({ ...g, K: 512, C: 512 }, 128), 1);
});
