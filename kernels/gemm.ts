/**
 * Batched GEMM, C[b] = op(A[b]) @ op(B[b]) (+ C[b] when accumulating), with
 * either operand transposed and either operand broadcast over the batch.
 *
 * Register-blocked: each invocation computes a TM x TN block of C, keeping
 * the accumulators in registers, with no workgroup memory. That suits CPU
 * adapters (llvmpipe), where barriers are costly; `gemmTiledKernel` in
 * gemm_tiled.ts stages tiles in workgroup memory for real GPUs.
 * Rows and columns past M and N are computed on clamped indices and never
 * stored, so no shape needs to be a multiple of the block.
 */
import { defineKernel, groups } from "./kernel.ts";

export interface GemmParams {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** A is stored [K, M] instead of [M, K]. */
  transA: boolean;
  /** B is stored [N, K] instead of [K, N]. */
  transB: boolean;
  /** A (or B) is one matrix shared by every batch entry. */
  broadcastA?: boolean;
  broadcastB?: boolean;
  /** Add into C instead of overwriting it. */
  accumulate?: boolean;
  /** Block per invocation and workgroup shape. */
  tm?: number;
  tn?: number;
  wgx?: number;
  wgy?: number;
}

export function gemmDefaults(p: GemmParams): Required<GemmParams> {
  const tm = p.tm ?? (p.M >= 8 ? 8 : p.M >= 4 ? 4 : 1);
  const tn = Math.ceil((p.tn ?? (p.N >= 8 ? 8 : 4)) / 4) * 4;
  return {
    broadcastA: false,
    broadcastB: false,
    accumulate: false,
    wgx: 8,
    wgy: 4,
    ...p,
    tm,
    tn,
  };
}

export const gemmKernel = defineKernel<GemmParams>({
  name: "gemm",
  key: (p) => `gemm:${JSON.stringify(gemmDefaults(p))}`,
  wgsl(p0) {
    const p = gemmDefaults(p0);
    const { M, N, K, tm, tn } = p;
    const aIdx = (m: string, k: string) => p.transA ? `(${k}) * ${M}u + ${m}` : `(${m}) * ${K}u + ${k}`;
    const bIdx = (k: string, n: string) => p.transB ? `(${n}) * ${K}u + ${k}` : `(${k}) * ${N}u + ${n}`;
    const lines: string[] = [];
    for (let i = 0; i < tm; i++) lines.push(`let mi${i} = min(m0 + ${i}u, ${M - 1}u);`);
    for (let j = 0; j < tn; j++) lines.push(`let nj${j} = min(n0 + ${j}u, ${N - 1}u);`);
    const accDecl: string[] = [];
    for (let i = 0; i < tm; i++) for (let j = 0; j < tn / 4; j++) accDecl.push(`var c${i}_${j} = vec4<f32>(0.0);`);
    const body: string[] = [];
    for (let i = 0; i < tm; i++) body.push(`let a${i} = A[aB + ${aIdx(`mi${i}`, "k")}];`);
    for (let j = 0; j < tn / 4; j++) {
      const e = [0, 1, 2, 3].map((q) => `B[bB + ${bIdx("k", `nj${4 * j + q}`)}]`);
      body.push(`let b${j} = vec4<f32>(${e.join(", ")});`);
    }
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn / 4; j++) body.push(`c${i}_${j} = fma(vec4<f32>(a${i}), b${j}, c${i}_${j});`);
    }
    const store: string[] = [];
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn / 4; j++) {
        for (let q = 0; q < 4; q++) {
          const n = 4 * j + q;
          const target = `C[cB + (m0 + ${i}u) * ${N}u + n0 + ${n}u]`;
          const value = p.accumulate ? `${target} + c${i}_${j}[${q}]` : `c${i}_${j}[${q}]`;
          store.push(`if (m0 + ${i}u < ${M}u && n0 + ${n}u < ${N}u) { ${target} = ${value}; }`);
        }
      }
    }
    return `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@compute @workgroup_size(${p.wgx}, ${p.wgy})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let n0 = g.x * ${tn}u;
  let m0 = g.y * ${tm}u;
  if (n0 >= ${N}u || m0 >= ${M}u) { return; }
  let b = g.z;
  let aB = ${p.broadcastA ? "0u" : `b * ${M * K}u`};
  let bB = ${p.broadcastB ? "0u" : `b * ${K * N}u`};
  let cB = b * ${M * N}u;
  ${lines.join("\n  ")}
  ${accDecl.join("\n  ")}
  for (var k = 0u; k < ${K}u; k++) {
    ${body.join("\n    ")}
  }
  ${store.join("\n  ")}
}`;
  },
  dispatch(p0) {
    const p = gemmDefaults(p0);
    return [groups(Math.ceil(p.N / p.tn), p.wgx), groups(Math.ceil(p.M / p.tm), p.wgy), p.batch];
  },
});
