/**
 * Test-time classification scores, one invocation per row: sigmoid
 * (optionally times EQL v2's 1 - sigma(x_C)), softmax over all columns
 * (ce), or Seesaw's softmax(classes) * P(object) then P(background).
 * Output rows have C + 1 columns for the C + 1 and C + 2 layouts.
 */
import { defineKernel, flatIndex, grid1d } from "../kernel.ts";
import { SIGMOID_WGSL } from "./_wgsl.ts";

export interface ScoresParams {
  mode: "sigmoid" | "sigmoid_obj" | "softmax" | "seesaw";
  rows: number;
  columns: number;
  numClasses: number;
}

const WG = 64;

function body({ mode, columns: cols, numClasses: c }: ScoresParams): string {
  if (mode === "sigmoid" || mode === "sigmoid_obj") {
    return `let fg = ${mode === "sigmoid_obj" ? `sigmoid_parts(X[i * ${cols}u + ${c}u]).y` : "1.0"};
  for (var j = 0u; j < ${cols}u; j++) {
    let s = sigmoid_parts(X[i * ${cols}u + j]).x;
    Y[i * ${cols}u + j] = select(s, s * fg, j < ${c}u);
  }`;
  }
  const n = mode === "softmax" ? cols : c;
  const out = c + 1;
  return `var m = -3.4e38;
  for (var j = 0u; j < ${n}u; j++) { m = max(m, X[i * ${cols}u + j]); }
  var z = 0.0;
  for (var j = 0u; j < ${n}u; j++) { z += exp(X[i * ${cols}u + j] - m); }
  ${
    mode === "seesaw"
      ? `let o0 = X[i * ${cols}u + ${c}u]; let o1 = X[i * ${cols}u + ${c + 1}u];
  let po = 1.0 / (1.0 + exp(o1 - o0));
  Y[i * ${out}u + ${c}u] = 1.0 - po;`
      : "let po = 1.0;"
  }
  for (var j = 0u; j < ${n}u; j++) { Y[i * ${out}u + j] = exp(X[i * ${cols}u + j] - m) / z * po; }`;
}

export const lossScoresKernel = defineKernel<ScoresParams>({
  name: "loss_scores",
  wgsl(p) {
    return `${SIGMOID_WGSL}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", WG)};
  if (i >= ${p.rows}u) { return; }
  ${body(p)}
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, WG),
});

/** Columns of the scores for a layout of `columns` logits. */
export function scoreColumns(p: Pick<ScoresParams, "mode" | "columns" | "numClasses">): number {
  return p.mode === "seesaw" ? p.numClasses + 1 : p.columns;
}
