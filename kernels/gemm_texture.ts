/**
 * The register-blocked GEMM reading A and B as rgba32float texture arrays: on llvmpipe a storage load is a loop over
 * the 8 lanes, a texel fetch a branch-free 16-byte gather (BENCHMARKS.md, texture operands). The layout costs a copy
 * or a packing pass per operand, so only large products take this path.
 */
import { defineKernel, groups } from "./kernel.ts";
import type { GemmParams } from "./gemm_params.ts";
import { blockStores } from "./gemm_block.ts";

export interface PackParams {
  /** Layers, rows of the source, texture rows (>= rows; the rest is zero), columns (elements). */
  layers: number;
  rows: number;
  texRows: number;
  cols: number;
  zs: number;
  rs: number;
  cs: number;
}

const PACK_WG = [16, 4] as const;

export const packTextureKernel = defineKernel<PackParams>({
  name: "gemm_pack",
  wgsl(p) {
    const c4 = Math.ceil(p.cols / 4);
    const lanes = [0, 1, 2, 3].map((q) =>
      `select(0.0, S[min(base + (c + ${q}u) * ${p.cs}u, last)], ok && c + ${q}u < ${p.cols}u)`
    );
    return `@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var T: texture_storage_2d_array<rgba32float, write>;
@compute @workgroup_size(${PACK_WG[0]}, ${PACK_WG[1]})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x >= ${c4}u || g.y >= ${p.texRows}u) { return; }
  let ok = g.y < ${p.rows}u;
  let last = arrayLength(&S) - 1u;
  let c = g.x * 4u;
  let base = g.z * ${p.zs}u + min(g.y, ${Math.max(0, p.rows - 1)}u) * ${p.rs}u;
  textureStore(T, vec2<i32>(i32(g.x), i32(g.y)), i32(g.z), vec4<f32>(${lanes.join(", ")}));
}`;
  },
  dispatch: (p) => [groups(Math.ceil(p.cols / 4), PACK_WG[0]), groups(p.texRows, PACK_WG[1]), p.layers],
});

export type GemmTextureParams = Required<GemmParams>;

/** WGSL of the GEMM over texture operands (A: [layers, M, ceil(K/4)], B: [layers, 4 ceil(K/4), ceil(N/4)]). */
export function gemmTextureWgsl(p: GemmTextureParams): string {
  const { M, N, K, tm, tn, wgx, wgy } = p;
  const tv = tn / 4;
  const [K4, N4] = [Math.ceil(K / 4), Math.ceil(N / 4)];
  const vecC = N % 4 === 0;
  const pre: string[] = [];
  for (let i = 0; i < tm; i++) pre.push(`let r${i} = i32(min(m0 + ${i}u, ${M - 1}u));`);
  for (let j = 0; j < tv; j++) {
    pre.push(`let g${j} = gbase + ${j * wgx}u;`);
    pre.push(`let gc${j} = i32(min(g${j}, ${N4 - 1}u));`);
  }
  for (let i = 0; i < tm; i++) for (let j = 0; j < tv; j++) pre.push(`var c${i}_${j} = vec4<f32>(0.0);`);
  const body: string[] = [];
  for (let i = 0; i < tm; i++) body.push(`let a${i} = textureLoad(A, vec2<i32>(kk, r${i}), la, 0);`);
  for (let q = 0; q < 4; q++) {
    for (let j = 0; j < tv; j++) body.push(`let b${q}_${j} = textureLoad(B, vec2<i32>(gc${j}, k + ${q}), lb, 0);`);
  }
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tv; j++) {
      for (let q = 0; q < 4; q++) body.push(`c${i}_${j} = fma(vec4<f32>(a${i}[${q}]), b${q}_${j}, c${i}_${j});`);
    }
  }
  const store = blockStores(p);
  return `@group(0) @binding(0) var A: texture_2d_array<f32>;
@group(0) @binding(1) var B: texture_2d_array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<${vecC ? "vec4<f32>" : "f32"}>;
@compute @workgroup_size(${wgx}, ${wgy})
fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let m0 = (w.y * ${wgy}u + l.y) * ${tm}u;
  let gbase = w.x * ${wgx * tv}u + l.x;
  let la = ${p.broadcastA ? "0" : "i32(w.z)"};
  let lb = ${p.broadcastB ? "0" : "i32(w.z)"};
  let cB = w.z * ${M * N}u;
  ${pre.join("\n  ")}
  for (var kk = 0; kk < ${K4}; kk++) {
    let k = kk * 4;
    ${body.join("\n    ")}
  }
  ${store.join("\n  ")}
}`;
}

/** Bind [A texture view, B texture view, C buffer]. */
export const gemmTextureKernel = defineKernel<GemmTextureParams>({
  name: "gemm_texture",
  wgsl: gemmTextureWgsl,
  dispatch: (p) => [groups(Math.ceil(p.N / p.tn), p.wgx), groups(Math.ceil(p.M / p.tm), p.wgy), p.batch],
});

export function gemmTextureExtents(p: GemmParams): { a: number[]; b: number[] } {
  const K4 = Math.ceil(p.K / 4);
  return {
    a: [K4, p.M, p.broadcastA ? 1 : p.batch],
    b: [Math.ceil(p.N / 4), 4 * K4, p.broadcastB ? 1 : p.batch],
  };
}

export function gemmTextureFits(
  p: GemmParams,
  limits: Pick<GPUSupportedLimits, "maxTextureDimension2D" | "maxTextureArrayLayers">,
): boolean {
  if (p.M === 0 || p.N === 0 || p.K === 0) return false;
  const { a, b } = gemmTextureExtents(p);
  return [a, b].every(([w, h, l]) =>
    w <= limits.maxTextureDimension2D && h <= limits.maxTextureDimension2D && l <= limits.maxTextureArrayLayers
  );
}

export interface TextureHost {
  dispatch<P>(kernel: import("./kernel.ts").Kernel<P>, p: P, b: (GPUBuffer | GPUTextureView)[]): void;
  texture(width: number, height: number, layers: number, label?: string): GPUTexture;
  releaseTexture(tex: GPUTexture): void;
  copyToTexture(src: GPUBuffer, tex: GPUTexture, bytesPerRow: number): void;
}

/** A plain copy where rows are already whole, 256-byte-aligned vec4 rows, else the packing kernel. */
function layOut(h: TextureHost, src: GPUBuffer, extent: number[], pack: PackParams, label: string): GPUTexture {
  const [w, texRows, layers] = extent;
  const tex = h.texture(w, texRows, layers, label);
  const plain = pack.cs === 1 && pack.rs === pack.cols && pack.zs === pack.rows * pack.cols &&
    pack.texRows === pack.rows && (pack.cols * 4) % 256 === 0;
  if (plain) h.copyToTexture(src, tex, pack.cols * 4);
  else h.dispatch(packTextureKernel, pack, [src, tex.createView({ dimension: "2d-array" })]);
  return tex;
}

/** Queue C = op(A) @ op(B) (+ C) through texture operands; p must have every field filled in. */
export function gemmThroughTextures(h: TextureHost, p: GemmTextureParams, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer) {
  const { M, N, K } = p;
  const ext = gemmTextureExtents(p);
  const ta = layOut(h, a, ext.a, {
    layers: ext.a[2],
    rows: M,
    texRows: M,
    cols: K,
    zs: M * K,
    ...(p.transA ? { rs: 1, cs: M } : { rs: K, cs: 1 }),
  }, "gemm A");
  const tb = layOut(h, b, ext.b, {
    layers: ext.b[2],
    rows: K,
    texRows: ext.b[1],
    cols: N,
    zs: K * N,
    ...(p.transB ? { rs: 1, cs: K } : { rs: N, cs: 1 }),
  }, "gemm B");
  const view = (t: GPUTexture) => t.createView({ dimension: "2d-array" });
  h.dispatch(gemmTextureKernel, p, [view(ta), view(tb), c]);
  h.releaseTexture(ta);
  h.releaseTexture(tb);
}
