/**
 * Softmax and log-softmax over the last axis, one invocation per row, with
 * the row maximum subtracted first so exp never overflows. The backward of
 * softmax is y * (dy - sum(dy * y)); of log-softmax, dy - exp(y) * sum(dy).
 */
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface SoftmaxParams {
  rows: number;
  /** Length of the last axis. */
  D: number;
  /** Log-softmax instead of softmax. */
  log: boolean;
}

const WG = 64;

export const softmaxKernel = defineKernel<SoftmaxParams>({
  name: "softmax",
  wgsl({ rows, D, log }) {
    const write = log ? "Y[b + j] = X[b + j] - m - log(s);" : "Y[b + j] = exp(X[b + j] - m) / s;";
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let r = ${flatIndex("g", WG)};
  if (r >= ${rows}u) { return; }
  let b = r * ${D}u;
  var m = X[b];
  for (var j = 1u; j < ${D}u; j++) { m = max(m, X[b + j]); }
  var s = 0.0;
  for (var j = 0u; j < ${D}u; j++) { s += exp(X[b + j] - m); }
  for (var j = 0u; j < ${D}u; j++) { ${write} }
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, WG),
});

/** Binds Y (the forward's output), DY, then DX. */
export const softmaxBackwardKernel = defineKernel<SoftmaxParams>({
  name: "softmax_backward",
  wgsl({ rows, D, log }) {
    const dot = log ? "s += DY[b + j];" : "s += DY[b + j] * Y[b + j];";
    const write = log ? "DX[b + j] = DY[b + j] - exp(Y[b + j]) * s;" : "DX[b + j] = Y[b + j] * (DY[b + j] - s);";
    return `@group(0) @binding(0) var<storage, read> Y: array<f32>;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let r = ${flatIndex("g", WG)};
  if (r >= ${rows}u) { return; }
  let b = r * ${D}u;
  var s = 0.0;
  for (var j = 0u; j < ${D}u; j++) { ${dot} }
  for (var j = 0u; j < ${D}u; j++) { ${write} }
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, WG),
});
