/**
 * Weight gradient of a 2-D convolution as an implicit GEMM over N x OH x OW:
 * dW[k][c][kh][kw] = sum over n, oh, ow of dY[n][k][oh][ow] * Xp[n][c][oh*sh + kh*dh][ow*sw + kw*dw],
 * with Xp the zero-padded input and dY padded to a width of a multiple of 4
 * (both from `padPlanesKernel`). Each invocation owns TM output channels x
 * TC input channels x KW taps of one kernel row and walks the pixels four
 * at a time with vec4 loads; the four lanes of each accumulator are summed
 * at the end; with `bias`, the same pass sums dY for the bias gradient
 * (saving a reduction over dY). The input gradient needs no kernel of its own: it is
 * `conv2dKernel` over the zero-inserted, padded dY with the flipped weight.
 */
import { defineKernel, groups } from "./kernel.ts";
import { rowVec4s } from "./conv2d.ts";

export interface Conv2dWeightGradParams {
  N: number;
  C: number;
  K: number;
  /** Padded input plane (Wp a multiple of 4: `paddedWidth` with OW = OW4, tn = 4). */
  Hp: number;
  Wp: number;
  /** Output plane, and dY's padded width (a multiple of 4). */
  OH: number;
  OW4: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /**
   * Read dY from a uniform buffer holding this many consecutive (n, oh) rows laid out
   * [row][K][OW4] (dY transposed; at most 64 KiB), with a second uniform U = (first row,
   * rows, accumulate, 0) per dispatch; 0: dY [N][K][OH][OW4] in a storage buffer.
   * Uniform reads whose index is the same across the workgroup are scalar loads on llvmpipe.
   */
  dyChunkRows?: number;
  /**
   * Also write the bias gradient, the sum of dY over N x OH x OW, to a buffer [K] bound after dW
   * (invocations of kernel row 0 and the first input channels add up the dY they read anyway).
   */
  bias?: boolean;
  /** Output channels and input channels per invocation; invocations per workgroup. */
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
