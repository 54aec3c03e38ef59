/**
 * ReLU and its gradient, four elements per invocation: on llvmpipe every
 * storage load is a loop over the SIMD lanes, so a vec4 load moves four
 * values for little more than the price of one (the generic `map` kernel
 * reads one per load). Shape-free: the vec4 count comes from a uniform, so
 * one pipeline per direction serves every tensor whose size is a multiple
 * of 4.
 */
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface ReluParams {
  /** Elements (a multiple of 4). */
  n: number;
  /**
   * false: Y = max(X, 0), or max(X + Z, 0) with `add` (bindings X, Z, Y). true: DX = G where
   * X > 0, else 0 (bindings X, G, DX; X may be the forward's input or its output).
   */
  backward: boolean;
  add?: boolean;
}

const WG = 64;

export const reluKernel = defineKernel<ReluParams>({
  name: "relu",
  key: (p) => `relu:${p.backward}${p.add ? ":add" : ""}`,
  wgsl(p) {
    const ins = p.backward ? ["X", "G"] : p.add ? ["X", "Z"] : ["X"];
    const decls = ins.map((v, k) => `@group(0) @binding(${k}) var<storage, read> ${v}: array<vec4<f32>>;`);
    const z = "vec4<f32>(0.0)";
    const expr = p.backward ? `select(${z}, G[i], X[i] > ${z})` : p.add ? `max(X[i] + Z[i], ${z})` : `max(X[i], ${z})`;
    return `${decls.join("\n")}
@group(0) @binding(${ins.length}) var<storage, read_write> Y: array<vec4<f32>>;
@group(0) @binding(${ins.length + 1}) var<uniform> n4: vec4<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= n4.x) { return; }
  Y[i] = ${expr};
}`;
  },
  dispatch: (p) => grid1d(p.n / 4, WG),
});
