/**
 * The layout half of a transposed convolution whose kernel equals its
 * stride (Mask R-CNN's 2x2, stride 2): a GEMM gives, per image, the
 * products Z [Cout * s * s, H * W] of the weight with the input, and these
 * kernels move them to and from the output planes. Forward: Y[n][o][h*s+dy]
 * [w*s+dx] = Z[n][(o*s+dy)*s+dx][h*W+w] + bias[o]; backward, the inverse
 * gather of the output gradient. One invocation per written element,
 * consecutive along a row, so writes are contiguous and reads come from s
 * contiguous runs.
 */
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface DepthToSpaceParams {
  /** Images. */
  N: number;
  /** Output channels. */
  C: number;
  /** Input height and width (the output is H*s x W*s). */
  H: number;
  W: number;
  /** Kernel size = stride. */
  s: number;
  /** Whether a bias [C] is bound (forward only). */
  bias: boolean;
}

const WG = 64;

/** Bindings: Z [N, C*s*s, H*W], (bias [C]), Y [N, C, H*s, W*s]. */
export const depthToSpaceKernel = defineKernel<DepthToSpaceParams>({
  name: "depth_to_space",
  wgsl(p) {
    const { C, H, W, s } = p, OW = W * s, OH = H * s, n = p.N * C * OH * OW;
    const out = p.bias ? 2 : 1;
    return `@group(0) @binding(0) var<storage, read> Z: array<f32>;
${p.bias ? "@group(0) @binding(1) var<storage, read> B: array<f32>;" : ""}
@group(0) @binding(${out}) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let x = i % ${OW}u;
  let y = (i / ${OW}u) % ${OH}u;
  let o = (i / ${OW * OH}u) % ${C}u;
  let img = i / ${C * OW * OH}u;
  let row = (o * ${s}u + y % ${s}u) * ${s}u + x % ${s}u;
  Y[i] = Z[(img * ${C * s * s}u + row) * ${H * W}u + (y / ${s}u) * ${W}u + x / ${s}u]${p.bias ? " + B[o]" : ""};
}`;
  },
  dispatch: (p) => grid1d(p.N * p.C * p.H * p.W * p.s * p.s, WG),
});

/** Bindings: DY [N, C, H*s, W*s], DZ [N, C*s*s, H*W]. */
export const spaceToDepthKernel = defineKernel<Omit<DepthToSpaceParams, "bias">>({
  name: "space_to_depth",
  wgsl(p) {
    const { C, H, W, s } = p, OW = W * s, n = p.N * C * s * s * H * W;
    return `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read_write> DZ: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let w = i % ${W}u;
  let h = (i / ${W}u) % ${H}u;
  let row = (i / ${H * W}u) % ${C * s * s}u;
  let img = i / ${C * s * s * H * W}u;
  let o = row / ${s * s}u;
  let dy = (row / ${s}u) % ${s}u;
  let dx = row % ${s}u;
  DZ[i] = DY[((img * ${C}u + o) * ${H * s}u + h * ${s}u + dy) * ${OW}u + w * ${s}u + dx];
}`;
  },
  dispatch: (p) => grid1d(p.N * p.C * p.s * p.s * p.H * p.W, WG),
});
