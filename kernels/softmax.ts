// Softmax and log-softmax over the last axis, the row maximum subtracted first so exp never overflows.
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface SoftmaxParams {
  rows: number;
  D: number;
  log: boolean;
}

const WG = 64;

function rowMax(rows: number, D: number): string {
  return `let r = ${flatIndex("g", WG)};
  if (r >= ${rows}u) { return; }
  let b = r * ${D}u;
  var m = X[b];
  for (var j = 1u; j < ${D}u; j++) { m = max(m, X[b + j]); }`;
}

export const softmaxKernel = defineKernel<SoftmaxParams>({
  name: "softmax",
  wgsl({ rows, D, log }) {
    const write = log ? "Y[b + j] = X[b + j] - m - log(s);" : "Y[b + j] = exp(X[b + j] - m) / s;";
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  ${rowMax(rows, D)}
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

export interface SoftmaxCrossEntropyParams {
  rows: number;
  D: number;
}

/** Row r's cross entropy L[r] and S[2r] = lse_r, S[2r + 1] = sum_j T[r][j] for the backward. */
export const softmaxCrossEntropyKernel = defineKernel<SoftmaxCrossEntropyParams>({
  name: "softmax_cross_entropy",
  wgsl({ rows, D }) {
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> T: array<f32>;
@group(0) @binding(2) var<storage, read_write> L: array<f32>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  ${rowMax(rows, D)}
  var s = 0.0;
  var tx = 0.0;
  var ts = 0.0;
  for (var j = 0u; j < ${D}u; j++) {
    let x = X[b + j];
    let t = T[b + j];
    s += exp(x - m);
    tx += t * (x - m);
    ts += t;
  }
  let ls = log(s);
  L[r] = ts * ls - tx;
  S[2u * r] = m + ls;
  S[2u * r + 1u] = ts;
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, WG),
});

/** DX = G / rows * (softmax(X) * sum(T) - T) and, with `target`, DT = -G / rows * logSoftmax(X). */
export const softmaxCrossEntropyBackwardKernel = defineKernel<SoftmaxCrossEntropyParams & { target: boolean }>({
  name: "softmax_cross_entropy_backward",
  wgsl({ rows, D, target }) {
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> T: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;
@group(0) @binding(4) var<storage, read_write> DX: array<f32>;
${target ? "@group(0) @binding(5) var<storage, read_write> DT: array<f32>;" : ""}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${rows * D}u) { return; }
  let r = i / ${D}u;
  let k = G[0] / ${rows}.0;
  let logp = X[i] - S[2u * r];
  DX[i] = k * (exp(logp) * S[2u * r + 1u] - T[i]);
  ${target ? "DT[i] = -k * logp;" : ""}
}`;
  },
  dispatch: ({ rows, D }) => grid1d(rows * D, WG),
});
