// Nearest 2x upsampling; the backward sums each 2 x 2 block of the gradient, one invocation per input pixel.
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface UpsampleParams {
  /** N * C planes of H x W (the input; the output is 2H x 2W). */
  planes: number;
  H: number;
  W: number;
}

const WG = 64;

export const upsampleNearest2xKernel = defineKernel<UpsampleParams>({
  name: "upsample_nearest2x",
  wgsl(p) {
    const n = p.planes * 4 * p.H * p.W;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let x = i % ${2 * p.W}u;
  let y = (i / ${2 * p.W}u) % ${2 * p.H}u;
  let plane = i / ${4 * p.H * p.W}u;
  Y[i] = X[plane * ${p.H * p.W}u + (y / 2u) * ${p.W}u + x / 2u];
}`;
  },
  dispatch: (p) => grid1d(p.planes * 4 * p.H * p.W, WG),
});

export const upsampleNearest2xBackwardKernel = defineKernel<UpsampleParams>({
  name: "upsample_nearest2x_backward",
  wgsl(p) {
    const n = p.planes * p.H * p.W;
    return `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read_write> DX: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let x = i % ${p.W}u;
  let y = (i / ${p.W}u) % ${p.H}u;
  let plane = i / ${p.H * p.W}u;
  let o = plane * ${4 * p.H * p.W}u + 2u * y * ${2 * p.W}u + 2u * x;
  DX[i] = (DY[o] + DY[o + 1u]) + (DY[o + ${2 * p.W}u] + DY[o + ${2 * p.W + 1}u]);
}`;
  },
  dispatch: (p) => grid1d(p.planes * p.H * p.W, WG),
});
