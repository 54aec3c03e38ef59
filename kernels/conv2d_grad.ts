/**
 * Weight gradient of a 2-D convolution as an implicit GEMM over N x OH x OW, from the zero-padded input and dY
 * padded to a width of a multiple of 4 (`padPlanesKernel`), vec4 loads along the pixels. The input gradient is
 * `conv2dKernel` over the zero-inserted, padded dY with the flipped weight.
 */
import { defineKernel, flatIndex, grid1d, groups } from "./kernel.ts";
import { rowVec4s } from "./conv2d.ts";

export interface WeightGradGeometry {
  N: number;
  C: number;
  K: number;
  Hp: number;
  Wp: number;
  OH: number;
  OW4: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
}

export interface Conv2dWeightGradParams extends WeightGradGeometry {
  /**
   * Rows of dY per uniform chunk (dY transposed, [row][K][OW4], at most 64 KiB; U = (first row, rows,
   * accumulate, 0)); 0: dY in a storage buffer. Uniform reads at a workgroup-uniform index are scalar loads on llvmpipe.
   */
  dyChunkRows?: number;
  /** Also write the bias gradient to a buffer [K] after dW, from the dY this pass reads anyway. */
  bias?: boolean;
  tm?: number;
  tc?: number;
  wgx?: number;
}

export function weightGradTiles(p: Conv2dWeightGradParams): { tm: number; tc: number; wgx: number } {
  return { tm: p.tm ?? Math.min(8, p.K), tc: p.tc ?? Math.min(4, p.C), wgx: p.wgx ?? 8 };
}

export const conv2dWeightGradKernel = defineKernel<Conv2dWeightGradParams>({
  name: "conv2d_weight_grad",
  wgsl(p) {
    const { tm, tc, wgx } = weightGradTiles(p);
    const nv = rowVec4s(4, p.sw, p.KW, p.dw);
    const cb = Math.ceil(p.C / tc);
    const pre: string[] = [];
    for (let i = 0; i < tm; i++) pre.push(`let ko${i} = min(k0 + ${i}u, ${p.K - 1}u);`);
    for (let c = 0; c < tc; c++) pre.push(`let ci${c} = min(c0 + ${c}u, ${p.C - 1}u);`);
    for (let i = 0; i < tm; i++) {
      for (let c = 0; c < tc; c++) for (let kw = 0; kw < p.KW; kw++) pre.push(`var a${i}_${c}_${kw} = vec4<f32>(0.0);`);
    }
    const R = p.dyChunkRows ?? 0, q4 = p.OW4 / 4;
    const body = (() => {
      const b: string[] = [];
      for (let i = 0; i < tm; i++) b.push(`let d${i} = DY[dr + ko${i} * ${R ? q4 : p.OH * q4}u];`);
      if (p.bias) { for (let i = 0; i < tm; i++) b.push(`s${i} += d${i};`); }
      for (let c = 0; c < tc; c++) {
        b.push("{");
        b.push(`let xb = xr + ci${c} * ${p.Hp * (p.Wp / 4)}u;`);
        for (let v = 0; v < nv; v++) b.push(`let x${v} = X[xb + ${v}u];`);
        for (let kw = 0; kw < p.KW; kw++) {
          const e = [0, 1, 2, 3].map((j) => {
            const o = j * p.sw + kw * p.dw;
            return `x${o >> 2}.${"xyzw"[o & 3]}`;
          });
          b.push(`let v${kw} = vec4<f32>(${e.join(", ")});`);
          for (let i = 0; i < tm; i++) b.push(`a${i}_${c}_${kw} = fma(d${i}, v${kw}, a${i}_${c}_${kw});`);
        }
        b.push("}");
      }
      return b.join("\n      ");
    })();
    if (p.bias) { for (let i = 0; i < tm; i++) pre.push(`var s${i} = vec4<f32>(0.0);`); }
    const store: string[] = [];
    if (p.bias) {
      store.push("if (c0 == 0u && kh == 0u) {");
      for (let i = 0; i < tm; i++) {
        const db = `DB[k0 + ${i}u]`;
        const v = `${R ? `select(0.0, ${db}, U.z != 0u) + ` : ""}dot(s${i}, vec4<f32>(1.0))`;
        store.push(`if (k0 + ${i}u < ${p.K}u) { ${db} = ${v}; }`);
      }
      store.push("}");
    }
    for (let i = 0; i < tm; i++) {
      for (let c = 0; c < tc; c++) {
        store.push(`if (k0 + ${i}u < ${p.K}u && c0 + ${c}u < ${p.C}u) {`);
        const base = `((k0 + ${i}u) * ${p.C}u + c0 + ${c}u) * ${p.KH * p.KW}u + kh * ${p.KW}u`;
        for (let kw = 0; kw < p.KW; kw++) {
          const v = `dot(a${i}_${c}_${kw}, vec4<f32>(1.0))`;
          store.push(`DW[${base} + ${kw}u] = ${R ? `select(0.0, DW[${base} + ${kw}u], U.z != 0u) + ` : ""}${v};`);
        }
        store.push("}");
      }
    }
    return `@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) ${
      R ? `var<uniform> DY: array<vec4<f32>, ${R * p.K * q4}>` : "var<storage, read> DY: array<vec4<f32>>"
    };
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
${p.bias ? "@group(0) @binding(3) var<storage, read_write> DB: array<f32>;" : ""}
${R ? `@group(0) @binding(${p.bias ? 4 : 3}) var<uniform> U: vec4<u32>;` : ""}
@compute @workgroup_size(${wgx})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let kh = g.x / ${cb}u;
  let c0 = (g.x % ${cb}u) * ${tc}u;
  let k0 = wg.y * ${tm}u;
  if (kh >= ${p.KH}u) { return; }
  ${pre.join("\n  ")}
  ${R ? "for (var r = 0u; r < U.y; r++) {" : `for (var r = 0u; r < ${p.N * p.OH}u; r++) {`}
    let row = ${R ? "U.x + r" : "r"};
    let n = row / ${p.OH}u;
    let oh = row % ${p.OH}u;
    let xrow = n * ${p.C * p.Hp * (p.Wp / 4)}u + (oh * ${p.sh}u + kh * ${p.dh}u) * ${p.Wp / 4}u;
    let drow = ${R ? `r * ${p.K * q4}u` : `n * ${p.K * p.OH * q4}u + oh * ${q4}u`};
    for (var q = 0u; q < ${q4}u; q++) {
      let xr = xrow + q * ${p.sw}u;
      let dr = drow + q;
      ${body}
    }
  }
  ${store.join("\n  ")}
}`;
  },
  dispatch(p) {
    const { tm, tc, wgx } = weightGradTiles(p);
    return [groups(Math.ceil(p.C / tc) * p.KH, wgx), Math.ceil(p.K / tm), 1];
  },
});

export interface Conv2dWeightGradSplitParams extends WeightGradGeometry {
  bias?: boolean;
  splits: number;
  tm?: number;
  tc?: number;
  wgx?: number;
}

const SPLIT_ACCUMULATORS = 576;

/**
 * Tiles of the split weight gradient: accumulators near 576 (16 x 4 x 3 x 3), as llvmpipe's compile time grows
 * faster than the kernel (BENCHMARKS.md, seventh session).
 */
export function splitWeightGradTiles(
  p: Pick<Conv2dWeightGradSplitParams, "K" | "C" | "KH" | "KW" | "tm" | "tc" | "wgx">,
): { tm: number; tc: number; wgx: number } {
  const taps = p.KH * p.KW;
  const tc = p.tc ?? Math.min(4, p.C, Math.max(1, Math.floor(SPLIT_ACCUMULATORS / 16 / taps)));
  const tm = p.tm ?? Math.min(16, p.K, Math.max(1, Math.floor(SPLIT_ACCUMULATORS / tc / taps)));
  return { tm, tc, wgx: p.wgx ?? 8 };
}

export function splitPartialLength(p: Pick<Conv2dWeightGradSplitParams, "K" | "C" | "KH" | "KW" | "bias">): number {
  return Math.ceil((p.K * p.C * p.KH * p.KW + (p.bias ? p.K : 0)) / 4) * 4;
}

export function splitRows(p: Pick<Conv2dWeightGradSplitParams, "N" | "OH" | "splits">): number {
  return Math.ceil((p.N * p.OH) / p.splits);
}

export function splitCount(
  p: Pick<Conv2dWeightGradSplitParams, "N" | "OH" | "K" | "C" | "KH" | "KW" | "tm" | "tc">,
  lanes: number,
): number {
  const { tm, tc } = splitWeightGradTiles(p);
  const blocks = Math.ceil(p.K / tm) * Math.ceil(p.C / tc), rows = p.N * p.OH;
  const want = Math.min(rows, Math.max(1, Math.round(lanes / blocks)));
  return Math.ceil(rows / Math.ceil(rows / want));
}

/**
 * Weight gradient for CPU adapters, the rows split across invocations: each takes TM x TC channels, all taps and
 * one part of the rows, one scalar accumulator per weight, and writes a partial row that `weightGradSumKernel`
 * adds up. On llvmpipe each storage load is a loop over the SIMD lanes, so more FMAs per load wins, and every lane
 * has work even when C x KH is small. GPUs keep the other kernel (registers). Figures: BENCHMARKS.md.
 */
export const conv2dWeightGradSplitKernel = defineKernel<Conv2dWeightGradSplitParams>({
  name: "conv2d_weight_grad_split",
  wgsl(p) {
    const { tm, tc, wgx } = splitWeightGradTiles(p);
    const nv = rowVec4s(4, p.sw, p.KW, p.dw);
    const cb = Math.ceil(p.C / tc), blocks = Math.ceil(p.K / tm) * cb;
    const q4 = p.OW4 / 4, wp4 = p.Wp / 4, rows = p.N * p.OH, per = splitRows(p);
    const L = splitPartialLength(p), kckk = p.K * p.C * p.KH * p.KW;
    const pre: string[] = [];
    for (let i = 0; i < tm; i++) pre.push(`let dk${i} = min(k0 + ${i}u, ${p.K - 1}u) * ${p.OH * q4}u;`);
    for (let c = 0; c < tc; c++) pre.push(`let xc${c} = min(c0 + ${c}u, ${p.C - 1}u) * ${p.Hp * wp4}u;`);
    const acc = (i: number, c: number, kh: number, kw: number) => `a${i}_${c}_${kh}_${kw}`;
    for (let i = 0; i < tm; i++) {
      for (let c = 0; c < tc; c++) {
        for (let kh = 0; kh < p.KH; kh++) {
          for (let kw = 0; kw < p.KW; kw++) pre.push(`var ${acc(i, c, kh, kw)} = 0.0;`);
        }
      }
      if (p.bias) pre.push(`var s${i} = 0.0;`);
    }
    // Rows rotate through registers when consecutive output rows read consecutive input rows (stride and
    // dilation 1 along height): each row loads only its last kernel row; x{c}_{kh}_{v} hold the rest.
    const rotate = p.sh === 1 && p.dh === 1 && p.KH > 1;
    const xs = (c: number, kh: number, v: number) => `x${c}_${kh}_${v}`;
    const body: string[] = [];
    for (let i = 0; i < tm; i++) body.push(`let d${i} = DY[dr + dk${i}];`);
    if (p.bias) { for (let i = 0; i < tm; i++) body.push(`s${i} += (d${i}.x + d${i}.y) + (d${i}.z + d${i}.w);`); }
    for (let c = 0; c < tc; c++) {
      for (let kh = 0; kh < p.KH; kh++) {
        body.push("{");
        if (!rotate) {
          body.push(`let xb = xr + xc${c} + ${kh * p.dh * wp4}u;`);
          for (let v = 0; v < nv; v++) body.push(`let x${v} = X[xb + ${v}u];`);
        }
        const xv = (v: number) => rotate ? xs(c, kh, v) : `x${v}`;
        for (let kw = 0; kw < p.KW; kw++) {
          const e = [0, 1, 2, 3].map((j) => {
            const o = j * p.sw + kw * p.dw;
            return `${xv(o >> 2)}.${"xyzw"[o & 3]}`;
          });
          body.push(`let v${kw} = vec4<f32>(${e.join(", ")});`);
          for (let i = 0; i < tm; i++) {
            const a = acc(i, c, kh, kw), d = `d${i}`;
            body.push(
              `${a} = fma(${d}.w, v${kw}.w, fma(${d}.z, v${kw}.z, fma(${d}.y, v${kw}.y, fma(${d}.x, v${kw}.x, ${a}))));`,
            );
          }
        }
        body.push("}");
      }
    }
    const store: string[] = [];
    for (let i = 0; i < tm; i++) {
      for (let c = 0; c < tc; c++) {
        store.push(`if (k0 + ${i}u < ${p.K}u && c0 + ${c}u < ${p.C}u) {`);
        store.push(`let o = pb + ((k0 + ${i}u) * ${p.C}u + c0 + ${c}u) * ${p.KH * p.KW}u;`);
        for (let kh = 0; kh < p.KH; kh++) {
          for (let kw = 0; kw < p.KW; kw++) store.push(`P[o + ${kh * p.KW + kw}u] = ${acc(i, c, kh, kw)};`);
        }
        store.push("}");
      }
    }
    if (p.bias) {
      store.push("if (c0 == 0u) {");
      for (let i = 0; i < tm; i++) store.push(`if (k0 + ${i}u < ${p.K}u) { P[pb + ${kckk}u + k0 + ${i}u] = s${i}; }`);
      store.push("}");
    }
    // Column block q outermost; then the part's rows image by image: the first KH - 1 input rows of an image's
    // run are loaded before its loop, each row then loads one more and shifts the window down.
    const rotatingLoop = () => {
      const eachX = (ks: number[], f: (c: number, k: number, v: number) => string) => {
        const out: string[] = [];
        for (let c = 0; c < tc; c++) for (const k of ks) for (let v = 0; v < nv; v++) out.push(f(c, k, v));
        return out.join(" ");
      };
      const rowsTo = (n: number) => Array.from({ length: n }, (_, k) => k);
      const load = (k: number, row: string) =>
        eachX([k], (c, k, v) => `${xs(c, k, v)} = X[xq + xc${c} + (${row}) * ${wp4}u + ${v}u];`);
      const decl = eachX(rowsTo(p.KH), (c, k, v) => `var ${xs(c, k, v)} = vec4<f32>(0.0);`);
      const shift = eachX(rowsTo(p.KH - 1), (c, k, v) => `${xs(c, k, v)} = ${xs(c, k + 1, v)};`);
      return `${decl}
  for (var q = 0u; q < ${q4}u; q++) {
    var r = part * ${per}u;
    loop {
      if (r >= r1) { break; }
      let n = r / ${p.OH}u;
      let oh0 = r % ${p.OH}u;
      let end = min(r1, (n + 1u) * ${p.OH}u);
      let xq = n * ${p.C * p.Hp * wp4}u + q * ${p.sw}u;
      let dq = n * ${p.K * p.OH * q4}u + q;
      ${Array.from({ length: p.KH - 1 }, (_, k) => load(k, `oh0 + ${k}u`)).join("\n      ")}
      for (var oh = oh0; oh < oh0 + (end - r); oh++) {
        ${load(p.KH - 1, `oh + ${p.KH - 1}u`)}
        let dr = dq + oh * ${q4}u;
        ${body.join("\n        ")}
        ${shift}
      }
      r = end;
    }
  }`;
    };
    return `@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> DY: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> P: array<f32>;
@compute @workgroup_size(${wgx})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let lane = ${flatIndex("g", wgx)};
  let part = lane % ${p.splits}u;
  let blk = lane / ${p.splits}u;
  if (blk >= ${blocks}u) { return; }
  let k0 = (blk / ${cb}u) * ${tm}u;
  let c0 = (blk % ${cb}u) * ${tc}u;
  let r1 = min((part + 1u) * ${per}u, ${rows}u);
  ${pre.join("\n  ")}
  ${
      rotate ? rotatingLoop() : `for (var r = part * ${per}u; r < r1; r++) {
    let n = r / ${p.OH}u;
    let oh = r % ${p.OH}u;
    let xrow = n * ${p.C * p.Hp * wp4}u + oh * ${p.sh * wp4}u;
    let drow = n * ${p.K * p.OH * q4}u + oh * ${q4}u;
    for (var q = 0u; q < ${q4}u; q++) {
      let xr = xrow + q * ${p.sw}u;
      let dr = drow + q;
      ${body.join("\n      ")}
    }
  }`
    }
  let pb = part * ${L}u;
  ${store.join("\n  ")}
}`;
  },
  dispatch(p) {
    const { tm, tc, wgx } = splitWeightGradTiles(p);
    return grid1d(Math.ceil(p.K / tm) * Math.ceil(p.C / tc) * p.splits, wgx);
  },
});

export interface WeightGradSumParams {
  splits: number;
  weights: number;
  biases: number;
}

/** Adds the parts of `conv2dWeightGradSplitKernel`, four entries per invocation as vec4s. */
export const weightGradSumKernel = defineKernel<WeightGradSumParams>({
  name: "conv2d_weight_grad_sum",
  wgsl(p) {
    const L4 = Math.ceil((p.weights + p.biases) / 4);
    const lanes = [0, 1, 2, 3].map((e) => {
      const j = `j + ${e}u`, v = `t.${"xyzw"[e]}`;
      const db = p.biases ? ` else if (${j} < ${p.weights + p.biases}u) { DB[${j} - ${p.weights}u] = ${v}; }` : "";
      return `if (${j} < ${p.weights}u) { DW[${j}] = ${v}; }${db}`;
    });
    return `@group(0) @binding(0) var<storage, read> P: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> DW: array<f32>;
${p.biases ? "@group(0) @binding(2) var<storage, read_write> DB: array<f32>;" : ""}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", 64)};
  if (i >= ${L4}u) { return; }
  var t = vec4<f32>(0.0);
  for (var s = 0u; s < ${p.splits}u; s++) { t += P[s * ${L4}u + i]; }
  let j = i * 4u;
  ${lanes.join("\n  ")}
}`;
  },
  dispatch: (p) => grid1d(Math.ceil((p.weights + p.biases) / 4), 64),
});
