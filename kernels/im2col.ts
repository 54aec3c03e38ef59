/**
 * The layout passes of a convolution computed as GEMM: im2col lays each
 * image's receptive fields out as columns, cols[n][(c*KH + kh)*KW + kw]
 * [oh*OW + ow] = x[n][c][oh*sh - ph + kh*dh][ow*sw - pw + kw*dw] (zero
 * outside the plane), so the convolution is W [K, C*KH*KW] @ cols[n]; col2im
 * is its adjoint, each input pixel summing the column entries that read it
 * (a gather over its KH x KW taps: deterministic, no atomics). One
 * invocation per written element, consecutive along the row.
 */
import type { ConvGeometry } from "./conv2d.ts";
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export type Im2colParams = ConvGeometry & { OH: number; OW: number };

const WG = 64;

/** Bindings: X [N, C, H, W], COLS [N, C*KH*KW, OH*OW]. */
export const im2colKernel = defineKernel<Im2colParams>({
  name: "im2col",
  wgsl(p) {
    const P = p.OH * p.OW, R = p.C * p.KH * p.KW, n = p.N * R * P;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> COLS: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let q = i % ${P}u;
  let r = (i / ${P}u) % ${R}u;
  let img = i / ${R * P}u;
  let kw = r % ${p.KW}u;
  let kh = (r / ${p.KW}u) % ${p.KH}u;
  let c = r / ${p.KW * p.KH}u;
  let ih = i32((q / ${p.OW}u) * ${p.sh}u + kh * ${p.dh}u) - ${p.ph};
  let iw = i32((q % ${p.OW}u) * ${p.sw}u + kw * ${p.dw}u) - ${p.pw};
  let inside = ih >= 0 && ih < ${p.H} && iw >= 0 && iw < ${p.W};
  let src = ((img * ${p.C}u + c) * ${p.H}u + u32(clamp(ih, 0, ${p.H - 1}))) * ${p.W}u + u32(clamp(iw, 0, ${p.W - 1}));
  COLS[i] = select(0.0, X[src], inside);
}`;
  },
  dispatch: (p) => grid1d(p.N * p.C * p.KH * p.KW * p.OH * p.OW, WG),
});

/** Bindings: DCOLS [N, C*KH*KW, OH*OW], DX [N, C, H, W]. */
export const col2imKernel = defineKernel<Im2colParams>({
  name: "col2im",
  wgsl(p) {
    const P = p.OH * p.OW, R = p.C * p.KH * p.KW, n = p.N * p.C * p.H * p.W;
    return `@group(0) @binding(0) var<storage, read> DCOLS: array<f32>;
@group(0) @binding(1) var<storage, read_write> DX: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let iw = i32(i % ${p.W}u);
  let ih = i32((i / ${p.W}u) % ${p.H}u);
  let c = (i / ${p.H * p.W}u) % ${p.C}u;
  let img = i / ${p.C * p.H * p.W}u;
  var acc = 0.0;
  for (var kh = 0; kh < ${p.KH}; kh++) {
    let th = ih + ${p.ph} - kh * ${p.dh};
    let oh = th / ${p.sh};
    let okh = th >= 0 && th % ${p.sh} == 0 && oh < ${p.OH};
    for (var kw = 0; kw < ${p.KW}; kw++) {
      let tw = iw + ${p.pw} - kw * ${p.dw};
      let ow = tw / ${p.sw};
      let ok = okh && tw >= 0 && tw % ${p.sw} == 0 && ow < ${p.OW};
      let r = (c * ${p.KH}u + u32(kh)) * ${p.KW}u + u32(kw);
      let q = u32(clamp(oh, 0, ${p.OH - 1})) * ${p.OW}u + u32(clamp(ow, 0, ${p.OW - 1}));
      acc += select(0.0, DCOLS[(img * ${R}u + r) * ${P}u + q], ok);
    }
  }
  DX[i] = acc;
}`;
  },
  dispatch: (p) => grid1d(p.N * p.C * p.H * p.W, WG),
});
