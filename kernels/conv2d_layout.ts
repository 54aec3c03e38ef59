// Zero-padded planes of a width that is a multiple of 4, so the convolution reads aligned vec4s without bounds checks.
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface PadPlanesParams {
  planes: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** Source pixel (y, x) lands at (top + y * sy, left + x * sx); may be negative (cropping). */
  top: number;
  left: number;
  sy: number;
  sx: number;
}

const WG = 64;

const PAD_RUN = 4;

export const padPlanesKernel = defineKernel<PadPlanesParams>({
  name: "pad_planes",
  wgsl(p) {
    const mod = (v: string, s: number) => (s === 1 ? "true" : `(${v} % ${s}) == 0`);
    // Without zeros inserted along rows and with rows of whole vec4s, an output vec4's 4 source pixels lie in 2
    // aligned vec4s, shared with the neighbour: PAD_RUN outputs load PAD_RUN + 1 vec4s. Else 4 scalar loads.
    const vec = p.sx === 1 && p.inW % 4 === 0;
    const run = vec ? PAD_RUN : 1, q4 = p.outW / 4, runs = Math.ceil(q4 / run);
    const n = p.planes * p.outH * runs;
    const o = ((-p.left % 4) + 4) % 4, w4 = p.inW / 4;
    const out: string[] = [];
    if (vec) {
      out.push(`let q = (i32(j0 * 4u) - ${p.left} - ${o}) / 4;`);
      for (let t = 0; t <= run; t++) out.push(`let l${t} = X[rb / 4u + u32(clamp(q + ${t}, 0, ${w4 - 1}))];`);
    }
    for (let r = 0; r < run; r++) {
      out.push(`if (j0 + ${r}u < ${q4}u) {`);
      out.push(`let x0 = i32((j0 + ${r}u) * 4u) - ${p.left};`);
      out.push("var v = vec4<f32>(0.0);");
      for (let e = 0; e < 4; e++) {
        out.push(
          vec
            ? `v[${e}] = select(0.0, ${
              o + e < 4 ? `l${r}[${o + e}]` : `l${r + 1}[${o + e - 4}]`
            }, rok && x0 + ${e} >= 0 && x0 + ${e} < ${p.inW});`
            : `{
    let x = x0 + ${e};
    let sx = x / ${p.sx};
    let ok = rok && x >= 0 && ${mod("x", p.sx)} && sx < ${p.inW};
    v[${e}] = select(0.0, X[rb + u32(clamp(sx, 0, ${p.inW - 1}))], ok);
  }`,
        );
      }
      out.push(`Y[row * ${q4}u + j0 + ${r}u] = v;`);
      out.push("}");
    }
    return `@group(0) @binding(0) var<storage, read> X: array<${vec ? "vec4<f32>" : "f32"}>;
@group(0) @binding(1) var<storage, read_write> Y: array<vec4<f32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let j0 = (i % ${runs}u) * ${run}u;
  let row = i / ${runs}u;
  let y = i32(row % ${p.outH}u) - ${p.top};
  let plane = row / ${p.outH}u;
  let sy = y / ${p.sy};
  let rok = y >= 0 && ${mod("y", p.sy)} && sy < ${p.inH};
  let rb = plane * ${p.inH * p.inW}u + u32(clamp(sy, 0, ${p.inH - 1})) * ${p.inW}u;
  ${out.join("\n  ")}
}`;
  },
  dispatch: (p) => {
    const run = p.sx === 1 && p.inW % 4 === 0 ? PAD_RUN : 1;
    return grid1d(p.planes * p.outH * Math.ceil(p.outW / 4 / run), WG);
  },
});

export interface ConvWeightParams {
  K: number;
  C: number;
  KH: number;
  KW: number;
  /**
   * false: out[(c * KH + kh) * KW + kw][k] = w[k][c][kh][kw] (forward).
   * true: out[(k * KH + kh) * KW + kw][c] = w[k][c][KH-1-kh][KW-1-kw] (input gradient).
   */
  flip: boolean;
  /** Columns per block (a multiple of 4): layout [blocks][rows][colsPerBlock], contiguous for a uniform chunk. */
  colsPerBlock?: number;
}

export function convWeightCols(p: ConvWeightParams): number {
  const cols = Math.ceil((p.flip ? p.C : p.K) / 4) * 4;
  return p.colsPerBlock ? Math.ceil(cols / p.colsPerBlock) * p.colsPerBlock : cols;
}

export const convWeightKernel = defineKernel<ConvWeightParams>({
  name: "conv_weight_layout",
  wgsl(p) {
    const cols = convWeightCols(p);
    const [rowsOut, colsReal] = p.flip ? [p.K, p.C] : [p.C, p.K];
    const rows = rowsOut * p.KH * p.KW, n = rows * cols, cb = p.colsPerBlock ?? cols;
    const src = p.flip
      ? `((a * ${p.C}u + col) * ${p.KH}u + ${p.KH - 1}u - kh) * ${p.KW}u + ${p.KW - 1}u - kw`
      : `((col * ${p.C}u + a) * ${p.KH}u + kh) * ${p.KW}u + kw`;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let col = i / ${rows * cb}u * ${cb}u + i % ${cb}u;
  let r = (i / ${cb}u) % ${rows}u;
  let kw = r % ${p.KW}u;
  let kh = (r / ${p.KW}u) % ${p.KH}u;
  let a = r / ${p.KH * p.KW}u;
  Y[i] = select(0.0, X[min(${src}, ${p.K * p.C * p.KH * p.KW - 1}u)], col < ${colsReal}u);
}`;
  },
  dispatch: (p) => grid1d((p.flip ? p.K : p.C) * p.KH * p.KW * convWeightCols(p), WG),
});
