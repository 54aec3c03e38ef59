// Test-time scores, one invocation per row, by the loss's inference rule given as WGSL.
import { defineKernel, flatIndex, grid1d } from "../kernel.ts";
import { SIGMOID_WGSL } from "./_wgsl.ts";

export interface ScoresParams {
  rows: number;
  /**
   * The row's scores: from `i` (the row), reads the logits X and writes the scores Y;
   * may call `sigmoid_parts` (see `SIGMOID_WGSL`).
   */
  body: string;
  constants?: boolean;
}

const WG = 64;

/** Sigmoid scores, times 1 - sigma(x_C) of the background column where `withObjectness` (EQL v2's test_with_obj). */
export function sigmoidScoresWgsl(p: { columns: number; numClasses: number; withObjectness: boolean }): string {
  const { columns: cols, numClasses: c } = p;
  return `let fg = ${p.withObjectness ? `sigmoid_parts(X[i * ${cols}u + ${c}u]).y` : "1.0"};
  for (var j = 0u; j < ${cols}u; j++) {
    let s = sigmoid_parts(X[i * ${cols}u + j]).x;
    Y[i * ${cols}u + j] = select(s, s * fg, j < ${c}u);
  }`;
}

/** Softmax over the first `classes` logits of a row, times `po`, which `factor` defines. */
export function softmaxScoresWgsl(
  p: { columns: number; classes: number; scoreColumns: number; factor: string },
): string {
  const { columns: cols, classes: n, scoreColumns: out } = p;
  return `var m = -3.4e38;
  for (var j = 0u; j < ${n}u; j++) { m = max(m, X[i * ${cols}u + j]); }
  var z = 0.0;
  for (var j = 0u; j < ${n}u; j++) { z += exp(X[i * ${cols}u + j] - m); }
  ${p.factor}
  for (var j = 0u; j < ${n}u; j++) { Y[i * ${out}u + j] = exp(X[i * ${cols}u + j] - m) / z * po; }`;
}

export const lossScoresKernel = defineKernel<ScoresParams>({
  name: "loss_scores",
  wgsl(p) {
    return `${SIGMOID_WGSL}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
${p.constants ? "@group(0) @binding(2) var<storage, read> K: array<f32>;\n" : ""}@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", WG)};
  if (i >= ${p.rows}u) { return; }
  ${p.body}
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, WG),
});
