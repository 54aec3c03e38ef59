// Deterministic second pass (fixed summation order, no float atomics): per column, then the scalar.
import { defineKernel } from "../kernel.ts";

export interface ColumnsParams {
  columns: number;
  numClasses: number;
  chunks: number;
  apply: boolean;
  /** EFL keeps its ratio clamped to [0, 1]. */
  clampRatio: boolean;
}

const WG = 64;
const SUM_WG = 256;

function applyWgsl(c: number, clamp: boolean): string {
  const r = clamp ? "clamp(pos / (neg + 1e-10), 0.0, 1.0)" : "pos / (neg + 1e-10)";
  return `let pos = S[j] + ps; let neg = S[${c}u + j] + ng;
    S[j] = pos; S[${c}u + j] = neg; S[${2 * c}u + j] = ${r};`;
}

export const lossColumnsKernel = defineKernel<ColumnsParams>({
  name: "loss_columns",
  wgsl({ columns: cols, numClasses: c, chunks, apply, clampRatio }) {
    return `@group(0) @binding(0) var<storage, read> Part: array<f32>;
@group(0) @binding(1) var<storage, read_write> Step: array<f32>;
@group(0) @binding(2) var<storage, read_write> LossCol: array<f32>;
${apply ? "@group(0) @binding(3) var<storage, read_write> S: array<f32>;" : ""}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= ${cols}u) { return; }
  var l = 0.0; var ps = 0.0; var ng = 0.0;
  for (var k = 0u; k < ${chunks}u; k++) {
    let b = k * ${3 * cols}u + j;
    l += Part[b]; ps += Part[b + ${cols}u]; ng += Part[b + ${2 * cols}u];
  }
  LossCol[j] = l;
  if (j < ${c}u) {
    Step[j] = ps; Step[${c}u + j] = ng;
    ${apply ? applyWgsl(c, clampRatio) : ""}
  }
}`;
  },
  dispatch: ({ columns }) => [Math.ceil(columns / WG), 1, 1],
});

export const lossSumKernel = defineKernel<{ columns: number }>({
  name: "loss_sum",
  wgsl: ({ columns: cols }) =>
    `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> LossCol: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
var<workgroup> sh: array<f32, ${SUM_WG}>;
@compute @workgroup_size(${SUM_WG})
fn main(@builtin(local_invocation_index) tid: u32) {
  var acc = 0.0;
  for (var j = tid; j < ${cols}u; j += ${SUM_WG}u) { acc += LossCol[j]; }
  sh[tid] = acc;
  workgroupBarrier();
  for (var s = ${SUM_WG / 2}u; s > 0u; s >>= 1u) {
    if (tid < s) { sh[tid] += sh[tid + s]; }
    workgroupBarrier();
  }
  if (tid == 0u) { Out[0] = sh[0] * u.scale; }
}`,
  dispatch: () => [1, 1, 1],
});

/** Add (all-reduced) step statistics to the state when a hook sits between the passes. */
export const lossApplyKernel = defineKernel<{ numClasses: number; clampRatio: boolean }>({
  name: "loss_apply_stats",
  wgsl({ numClasses: c, clampRatio }) {
    return `@group(0) @binding(0) var<storage, read> Step: array<f32>;
@group(0) @binding(1) var<storage, read_write> S: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= ${c}u) { return; }
  let ps = Step[j]; let ng = Step[${c}u + j];
  ${applyWgsl(c, clampRatio)}
}`;
  },
  dispatch: ({ numClasses }) => [Math.ceil(numClasses / WG), 1, 1],
});
