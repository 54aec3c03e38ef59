/**
 * SGD and AdamW in place, and the global gradient norm for clipping. Step values come in a uniform (one pipeline
 * for every step); gradients are scaled by S[1] from a GPU buffer, so clipping never waits for the host, as
 * `clip_grad_norm_` then `optimizer.step()`.
 */
import { defineKernel, f32, flatIndex, grid1d } from "./kernel.ts";

const WG = 256;

const INDEX = `let i = ${flatIndex("g", WG)};
  if (i >= u.n) { return; }`;

export interface SgdParams {
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  n?: number;
}

/** SGD update; buffers P (rw), G, V (rw, only when momentum > 0), S; uniform from `sgdUniform`. */
export const sgdKernel = defineKernel<SgdParams>({
  name: "sgd",
  key: (p) => `sgd:${p.momentum}:${p.weightDecay}:${p.nesterov}`,
  wgsl(p) {
    const mom = p.momentum > 0;
    let b = 0;
    const step = mom
      ? `let v = ${f32(p.momentum)} * V[i] + d;
  V[i] = v;
  ${p.nesterov ? `d = d + ${f32(p.momentum)} * v;` : "d = v;"}`
      : "";
    return `struct U { lr: f32, n: u32 }
@group(0) @binding(${b++}) var<storage, read_write> P: array<f32>;
@group(0) @binding(${b++}) var<storage, read> G: array<f32>;
${mom ? `@group(0) @binding(${b++}) var<storage, read_write> V: array<f32>;` : ""}
@group(0) @binding(${b++}) var<storage, read> S: array<f32>;
@group(0) @binding(${b++}) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  ${INDEX}
  var d = G[i] * S[1] + ${f32(p.weightDecay)} * P[i];
  ${step}
  P[i] = P[i] - u.lr * d;
}`;
  },
  dispatch: (p) => grid1d(p.n ?? 1, WG),
});

export function sgdUniform(lr: number, n: number): Uint8Array {
  const buf = new ArrayBuffer(16);
  new Float32Array(buf, 0, 1)[0] = lr;
  new Uint32Array(buf, 4, 1)[0] = n;
  return new Uint8Array(buf);
}

export interface AdamWParams {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  n?: number;
}

/** AdamW update (decoupled weight decay); buffers P (rw), G, M (rw), V (rw), S; uniform from `adamwUniform`. */
export const adamwKernel = defineKernel<AdamWParams>({
  name: "adamw",
  key: (p) => `adamw:${p.beta1}:${p.beta2}:${p.eps}:${p.weightDecay}`,
  wgsl(p) {
    return `struct U { lr: f32, bc1: f32, bc2: f32, n: u32 }
@group(0) @binding(0) var<storage, read_write> P: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> V: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  ${INDEX}
  let grad = G[i] * S[1];
  let m = ${f32(p.beta1)} * M[i] + ${f32(1 - p.beta1)} * grad;
  let v = ${f32(p.beta2)} * V[i] + ${f32(1 - p.beta2)} * grad * grad;
  M[i] = m;
  V[i] = v;
  let p = P[i] * (1.0 - u.lr * ${f32(p.weightDecay)});
  P[i] = p - u.lr * (m / u.bc1) / (sqrt(v / u.bc2) + ${f32(p.eps)});
}`;
  },
  dispatch: (p) => grid1d(p.n ?? 1, WG),
});

export function adamwUniform(o: { lr: number; beta1: number; beta2: number; t: number; n: number }): Uint8Array {
  const buf = new ArrayBuffer(16);
  const f = new Float32Array(buf, 0, 3);
  f[0] = o.lr;
  f[1] = 1 - o.beta1 ** o.t;
  f[2] = 1 - o.beta2 ** o.t;
  new Uint32Array(buf, 12, 1)[0] = o.n;
  return new Uint8Array(buf);
}

/** Partial sums of squares: invocation i sums X[i], X[i + parts], ... into OUT[offset + i]. */
export const sumSquaresKernel = defineKernel<{ parts: number }>({
  name: "sumSquares",
  key: () => "sumSquares",
  wgsl: () =>
    `struct U { n: u32, parts: u32, offset: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x;
  if (i >= u.parts) { return; }
  var s = 0.0;
  for (var j = i; j < u.n; j += u.parts) {
    let x = X[j];
    s = fma(x, x, s);
  }
  OUT[u.offset + i] = s;
}`,
  dispatch: (p) => [Math.max(1, Math.ceil(p.parts / 64)), 1, 1],
});

/** How many partial sums `sumSquaresKernel` makes for n elements (each sums at least 256). */
export function sumSquaresParts(n: number): number {
  return Math.max(1, Math.min(1024, Math.ceil(n / 256)));
}

export function sumSquaresUniform(n: number, parts: number, offset: number): Uint32Array {
  return new Uint32Array([n, parts, offset, 0]);
}

/** S = [norm, min(1, maxNorm / (norm + 1e-6))], as torch's clip_grad_norm_. */
export const clipScaleKernel = defineKernel<Record<string, never>>({
  name: "clipScale",
  key: () => "clipScale",
  wgsl: () =>
    `struct U { total: u32, maxNorm: f32 }
@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> S: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var j = li; j < u.total; j += 64u) { s += PART[j]; }
  red[li] = s;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w = w >> 1u) {
    if (li < w) { red[li] = red[li] + red[li + w]; }
    workgroupBarrier();
  }
  if (li == 0u) {
    let norm = sqrt(red[0]);
    S[0] = norm;
    S[1] = min(1.0, u.maxNorm / (norm + 1e-6));
  }
}`,
  dispatch: () => [1, 1, 1],
});

export function clipScaleUniform(total: number, maxNorm: number): Uint8Array {
  const buf = new ArrayBuffer(16);
  new Uint32Array(buf, 0, 1)[0] = total;
  new Float32Array(buf, 4, 1)[0] = maxNorm;
  return new Uint8Array(buf);
}
