/**
 * Batched GEMM, C[b] = op(A[b]) @ op(B[b]) (+ C[b]), either operand transposed or broadcast. `gemm` runs the
 * variant chosen for the adapter (`chooseGemm`): this register-blocked kernel, or the tiled one for GPUs.
 * Each invocation keeps a tm x tn block of C in registers and reads vec4s: llvmpipe pays per load instruction,
 * not per byte. Rows and columns past M and N are read clamped and never stored.
 */
import { defineKernel, groups } from "./kernel.ts";
import { currentGemmVariant } from "./gemm_choice.ts";
import type { GemmParams } from "./gemm_params.ts";
import { gemmTiledDispatch, gemmTiledWgsl } from "./gemm_tiled.ts";
import { blockStores } from "./gemm_block.ts";
import { gemmTextureFits, gemmThroughTextures, type TextureHost } from "./gemm_texture.ts";

export type { GemmParams } from "./gemm_params.ts";

export function gemmDefaults(p: GemmParams): Required<GemmParams> {
  // Bigger blocks load less per FMA but compile for seconds, so only big matrices get them; small ones get
  // small blocks, which also waste no lanes.
  const big = p.M >= 256 && p.N >= 256;
  const tm = p.tm ?? (big ? 32 : p.M >= 64 ? 16 : p.M >= 8 ? 8 : p.M >= 4 ? 4 : Math.max(1, p.M));
  const tn = Math.ceil((p.tn ?? (big ? 32 : p.N >= 128 ? 16 : p.N >= 16 ? 8 : 4)) / 4) * 4;
  return {
    broadcastA: false,
    broadcastB: false,
    accumulate: false,
    wgx: 8,
    wgy: 1,
    ...p,
    variant: p.variant ?? currentGemmVariant(),
    tm,
    tn,
  };
}

type Mode = "k" | "mn" | "s";

function _modes(p: Required<GemmParams>): { a: Mode; b: Mode; vecC: boolean } {
  const a: Mode = !p.transA && p.K % 4 === 0 ? "k" : p.transA && p.M % 4 === 0 && p.tm % 4 === 0 ? "mn" : "s";
  const b: Mode = p.transB && p.K % 4 === 0 ? "k" : !p.transB && p.N % 4 === 0 ? "mn" : "s";
  return { a, b, vecC: p.N % 4 === 0 };
}

function _blockedWgsl(p: Required<GemmParams>): string {
  const { M, N, K, tm, tn, wgx, wgy } = p;
  // An empty C has nothing to compute (and M - 1 or N - 1 would not be a u32).
  if (M === 0 || N === 0) {
    // The bindings must still appear in the shader for the bind group's automatic layout.
    return `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@compute @workgroup_size(1)
fn main() { if (arrayLength(&C) == 0u) { C[0] = A[0] + B[0]; } }`;
  }
  const tv = tn / 4;
  const { a: am, b: bm, vecC } = _modes(p);
  const [M4, N4, K4] = [M / 4, N / 4, Math.floor(K / 4)];
  const u = (x: number) => `${x}u`;
  const aIdx = (m: string, k: string) => p.transA ? `(${k}) * ${u(M)} + ${m}` : `(${m}) * ${u(K)} + ${k}`;
  const bIdx = (k: string, n: string) => p.transB ? `(${n}) * ${u(K)} + ${k}` : `(${k}) * ${u(N)} + ${n}`;
  const aScalar = (e: string) => am === "s" ? `A[aB + ${e}]` : `A[(aB + ${e}) / 4u][(aB + ${e}) % 4u]`;
  const bScalar = (e: string) => bm === "s" ? `B[bB + ${e}]` : `B[(bB + ${e}) / 4u][(bB + ${e}) % 4u]`;

  const pre: string[] = [];
  for (let i = 0; i < tm; i++) pre.push(`let r${i} = min(m0 + ${u(i)}, ${u(M - 1)});`);
  if (am === "mn") { for (let i = 0; i < tm / 4; i++) pre.push(`let rg${i} = min(m0 / 4u + ${u(i)}, ${u(M4 - 1)});`); }
  for (let j = 0; j < tv; j++) {
    pre.push(`let g${j} = gbase + ${u(j * wgx)};`);
    if (bm === "mn") pre.push(`let gc${j} = min(g${j}, ${u(N4 - 1)});`);
    else for (let c = 0; c < 4; c++) pre.push(`let n${j}_${c} = min(g${j} * 4u + ${u(c)}, ${u(N - 1)});`);
  }
  for (let i = 0; i < tm; i++) for (let j = 0; j < tv; j++) pre.push(`var c${i}_${j} = vec4<f32>(0.0);`);

  // Main loop over K in steps of 4: loads first, then each accumulator takes its 4 FMAs in a row.
  const body: string[] = [];
  const av: (i: number, q: number) => string = am === "k"
    ? (i, q) => `a${i}[${q}]`
    : am === "mn"
    ? (i, q) => `a${q}_${i >> 2}[${i & 3}]`
    : (i, q) => `a${i}_${q}`;
  if (am === "k") { for (let i = 0; i < tm; i++) body.push(`let a${i} = A[aB / 4u + r${i} * ${u(K4)} + kk];`); }
  else if (am === "mn") {
    for (let q = 0; q < 4; q++) {
      for (let i = 0; i < tm / 4; i++) body.push(`let a${q}_${i} = A[aB / 4u + (k + ${u(q)}) * ${u(M4)} + rg${i}];`);
    }
  } else {
    for (let i = 0; i < tm; i++) {
      for (let q = 0; q < 4; q++) body.push(`let a${i}_${q} = ${aScalar(aIdx(`r${i}`, `k + ${u(q)}`))};`);
    }
  }
  let bv: (q: number, j: number) => string;
  if (bm === "mn") {
    for (let q = 0; q < 4; q++) {
      for (let j = 0; j < tv; j++) body.push(`let b${q}_${j} = B[bB / 4u + (k + ${u(q)}) * ${u(N4)} + gc${j}];`);
    }
    bv = (q, j) => `b${q}_${j}`;
  } else if (bm === "k") {
    for (let j = 0; j < tv; j++) {
      for (let c = 0; c < 4; c++) body.push(`let b${j}_${c} = B[bB / 4u + n${j}_${c} * ${u(K4)} + kk];`);
    }
    bv = (q, j) => `vec4<f32>(b${j}_0[${q}], b${j}_1[${q}], b${j}_2[${q}], b${j}_3[${q}])`;
  } else {
    for (let q = 0; q < 4; q++) {
      for (let j = 0; j < tv; j++) {
        const e = [0, 1, 2, 3].map((c) => bScalar(bIdx(`k + ${u(q)}`, `n${j}_${c}`)));
        body.push(`let b${q}_${j} = vec4<f32>(${e.join(", ")});`);
      }
    }
    bv = (q, j) => `b${q}_${j}`;
  }
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tv; j++) {
      for (let q = 0; q < 4; q++) body.push(`c${i}_${j} = fma(vec4<f32>(${av(i, q)}), ${bv(q, j)}, c${i}_${j});`);
    }
  }

  // K % 4 leftover steps (only when neither operand is read along K as vec4).
  const tail: string[] = [];
  if (K % 4 !== 0) {
    for (let i = 0; i < tm; i++) tail.push(`let a${i} = ${aScalar(aIdx(`r${i}`, "k"))};`);
    for (let j = 0; j < tv; j++) {
      const e = [0, 1, 2, 3].map((c) =>
        bm === "mn" ? `B[bB / 4u + k * ${u(N4)} + gc${j}][${c}]` : bScalar(bIdx("k", `n${j}_${c}`))
      );
      tail.push(`let b${j} = ${bm === "mn" ? `B[bB / 4u + k * ${u(N4)} + gc${j}]` : `vec4<f32>(${e.join(", ")})`};`);
    }
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tv; j++) tail.push(`c${i}_${j} = fma(vec4<f32>(a${i}), b${j}, c${i}_${j});`);
    }
  }

  const store = blockStores(p);
  const ty = (vec: boolean) => vec ? "vec4<f32>" : "f32";
  return `@group(0) @binding(0) var<storage, read> A: array<${ty(am !== "s")}>;
@group(0) @binding(1) var<storage, read> B: array<${ty(bm !== "s")}>;
@group(0) @binding(2) var<storage, read_write> C: array<${ty(vecC)}>;
@compute @workgroup_size(${wgx}, ${wgy})
fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let m0 = (w.y * ${u(wgy)} + l.y) * ${u(tm)};
  let gbase = w.x * ${u(wgx * tv)} + l.x;
  let aB = ${p.broadcastA ? "0u" : `w.z * ${u(M * K)}`};
  let bB = ${p.broadcastB ? "0u" : `w.z * ${u(K * N)}`};
  let cB = w.z * ${u(M * N)};
  ${pre.join("\n  ")}
  for (var kk = 0u; kk < ${u(K4)}; kk++) {
    let k = kk * 4u;
    ${body.join("\n    ")}
  }
  for (var k = ${u(K4 * 4)}; k < ${u(K)}; k++) {
    ${tail.join("\n    ")}
  }
  ${store.join("\n  ")}
}`;
}

/** Products of at least `textureMinMacs` multiply-adds read textures (below, the layout costs more on llvmpipe). */
export const gemmTuning = { textureMinMacs: 2 ** 24 };

export interface GemmHost extends TextureHost {
  device: { limits: Pick<GPUSupportedLimits, "maxTextureDimension2D" | "maxTextureArrayLayers"> };
}

/**
 * Queue C = op(A) @ op(B) (+ C) on `host` with the adapter's variant; the blocked one reads textures when
 * `opts.textures` says so, by default from `gemmTuning.textureMinMacs` where the operands fit.
 *
 * @param host the runtime
 * @param p shapes and options
 * @param bufs A, B and C as storage buffers, laid out as `p` says
 * @param opts.textures force the texture path on (where it fits) or off
 */
export function gemm(
  host: GemmHost,
  p: GemmParams,
  [a, b, c]: [GPUBuffer, GPUBuffer, GPUBuffer],
  opts: { textures?: boolean } = {},
): void {
  const q = gemmDefaults(p);
  const fits = q.variant === "blocked" && gemmTextureFits(q, host.device.limits);
  if (fits && (opts.textures ?? q.M * q.N * q.K >= gemmTuning.textureMinMacs)) gemmThroughTextures(host, q, a, b, c);
  else host.dispatch(gemmKernel, p, [a, b, c]);
}

export const gemmKernel = defineKernel<GemmParams>({
  name: "gemm",
  key: (p) => `gemm:${JSON.stringify(gemmDefaults(p))}`,
  wgsl(p0) {
    const p = gemmDefaults(p0);
    return p.variant === "tiled" ? gemmTiledWgsl(p) : _blockedWgsl(p);
  },
  dispatch(p0) {
    const p = gemmDefaults(p0);
    if (p.variant === "tiled") return gemmTiledDispatch(p);
    return [groups(Math.ceil(p.N / p.tn), p.wgx), groups(Math.ceil(p.M / p.tm), p.wgy), p.batch];
  },
});
