/**
 * Max pooling over KH x KW windows with stride and padding (padded cells
 * never win), NCHW. The
 * forward writes the flat input index of each window's maximum (first one
 * on ties); the backward gathers, for each input pixel, the gradients of
 * the windows whose maximum it was, so no atomics are needed when windows
 * overlap. Global average pooling is `mean(x, [2, 3], true)` (reduce.ts).
 */
import { defineKernel, grid1d } from "./kernel.ts";

export interface MaxPoolParams {
  /** N * C planes of H x W, pooled to OH x OW. */
  planes: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

const WG = 64;

export const maxPoolKernel = defineKernel<MaxPoolParams>({
  name: "max_pool2d",
  wgsl(p) {
    const n = p.planes * p.OH * p.OW;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> A: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x + g.y * ${65535 * WG}u;
  if (i >= ${n}u) { return; }
  let ow = i32(i % ${p.OW}u);
  let oh = i32((i / ${p.OW}u) % ${p.OH}u);
  let base = (i / ${p.OH * p.OW}u) * ${p.H * p.W}u;
  var best = -3.4028234663852886e38;
  var arg = base;
  var found = false;
  for (var kh = 0; kh < ${p.KH}; kh++) {
    let ih = oh * ${p.sh} - ${p.ph} + kh;
    if (ih < 0 || ih >= ${p.H}) { continue; }
    for (var kw = 0; kw < ${p.KW}; kw++) {
      let iw = ow * ${p.sw} - ${p.pw} + kw;
      if (iw < 0 || iw >= ${p.W}) { continue; }
      let j = base + u32(ih * ${p.W} + iw);
      let v = X[j];
      if (!found || v > best) { best = v; arg = j; found = true; }
    }
  }
  Y[i] = best;
  A[i] = arg;
}`;
  },
  dispatch: (p) => grid1d(p.planes * p.OH * p.OW, WG),
});

export const maxPoolBackwardKernel = defineKernel<MaxPoolParams>({
  name: "max_pool2d_backward",
  wgsl(p) {
    const n = p.planes * p.H * p.W;
    // Output rows whose window covers input row ih: oh in [ceil((ih + ph - KH + 1) / sh), floor((ih + ph) / sh)].
    return `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x + g.y * ${65535 * WG}u;
  if (i >= ${n}u) { return; }
  let iw = i32(i % ${p.W}u);
  let ih = i32((i / ${p.W}u) % ${p.H}u);
  let plane = i / ${p.H * p.W}u;
  let oh0 = max(0, (ih + ${p.ph} - ${p.KH - 1} + ${p.sh - 1}) / ${p.sh});
  let oh1 = min(${p.OH - 1}, (ih + ${p.ph}) / ${p.sh});
  let ow0 = max(0, (iw + ${p.pw} - ${p.KW - 1} + ${p.sw - 1}) / ${p.sw});
  let ow1 = min(${p.OW - 1}, (iw + ${p.pw}) / ${p.sw});
  var acc = 0.0;
  for (var oh = oh0; oh <= oh1; oh++) {
    for (var ow = ow0; ow <= ow1; ow++) {
      let o = plane * ${p.OH * p.OW}u + u32(oh * ${p.OW} + ow);
      if (A[o] == i) { acc += DY[o]; }
    }
  }
  DX[i] = acc;
}`;
  },
  dispatch: (p) => grid1d(p.planes * p.H * p.W, WG),
});
