// Smooth L1 on the 4 columns [4k, 4k + 4) of each row, k = BLOCK[n] (< 0 skips the row); rows and scale are uniforms.
import { defineKernel, f32, flatIndex, grid1d } from "./kernel.ts";

export interface SmoothL1Params {
  cols: number;
  /** Quadratic below |x| < beta; plain L1 when beta < 1e-5. */
  beta: number;
  rows: number;
}

const WG = 64;
const key = (name: string) => (p: SmoothL1Params) => `${name}:${p.cols}:${f32(p.beta)}`;

function prelude(p: SmoothL1Params): string {
  const l1 = p.beta < 1e-5;
  return `struct U { rows: u32, scale: f32 }
fn loss(x: f32) -> f32 {
  ${
    l1
      ? "return abs(x);"
      : `let a = abs(x); return select(a - ${f32(0.5 * p.beta)}, 0.5 * x * x / ${f32(p.beta)}, a < ${f32(p.beta)});`
  }
}
fn dloss(x: f32) -> f32 {
  ${l1 ? "return sign(x);" : `return select(sign(x), x / ${f32(p.beta)}, abs(x) < ${f32(p.beta)});`}
}`;
}

/** Bindings: PRED, TARGET, BLOCK (i32), OUT [N], uniform {rows, scale}. */
export const smoothL1ForwardKernel = defineKernel<SmoothL1Params>({
  name: "smooth_l1_fwd",
  key: key("smooth_l1_fwd"),
  wgsl: (p) =>
    `@group(0) @binding(0) var<storage, read> PRED: array<f32>;
@group(0) @binding(1) var<storage, read> TARGET: array<f32>;
@group(0) @binding(2) var<storage, read> BLOCK: array<i32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
${prelude(p)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = ${flatIndex("gid", WG)};
  if (n >= u.rows) { return; }
  let k = BLOCK[n];
  var s = 0.0;
  if (k >= 0 && k < ${p.cols / 4}) {
    for (var j = 0u; j < 4u; j++) { s += loss(PRED[n * ${p.cols}u + u32(k) * 4u + j] - TARGET[n * 4u + j]); }
  }
  OUT[n] = s * u.scale;
}`,
  dispatch: (p) => grid1d(p.rows, WG),
});

/** Bindings: GRAD (of the per-row loss, [N]), PRED, TARGET, BLOCK, DPRED [N, D], uniform {rows, scale}. */
export const smoothL1BackwardKernel = defineKernel<SmoothL1Params>({
  name: "smooth_l1_bwd",
  key: key("smooth_l1_bwd"),
  wgsl: (p) =>
    `@group(0) @binding(0) var<storage, read> GRAD: array<f32>;
@group(0) @binding(1) var<storage, read> PRED: array<f32>;
@group(0) @binding(2) var<storage, read> TARGET: array<f32>;
@group(0) @binding(3) var<storage, read> BLOCK: array<i32>;
@group(0) @binding(4) var<storage, read_write> DPRED: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
${prelude(p)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", WG)};
  if (i >= u.rows * ${p.cols}u) { return; }
  let n = i / ${p.cols}u; let d = i % ${p.cols}u;
  let k = BLOCK[n];
  var g = 0.0;
  if (k >= 0 && d / 4u == u32(k)) { g = dloss(PRED[i] - TARGET[n * 4u + d % 4u]) * GRAD[n] * u.scale; }
  DPRED[i] = g;
}`,
  dispatch: (p) => grid1d(p.rows * p.cols, WG),
});
