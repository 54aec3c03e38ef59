/**
 * Max pooling, NCHW: the forward records each window's argmax (first on ties) and the backward gathers, so
 * overlapping windows need no atomics. Exactly tiling windows get vec4 kernels (fewer, wider loads for llvmpipe).
 * With `relu`, both pool relu(x) in the same pass (relu and max commute).
 */
import { defineKernel, f32, flatIndex, grid1d } from "./kernel.ts";

export interface MaxPoolParams {
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
  /**
   * Pool relu(x) instead of x: the output is max(window max, 0), and a window whose max is
   * not positive records no argmax (0xffffffff), so no input gets its gradient, as relu's.
   */
  relu?: boolean;
}

const NO_ARG = "0xffffffffu";

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
  let i = ${flatIndex("g", WG)};
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
  ${p.relu ? `if (!(best > 0.0)) { best = 0.0; arg = ${NO_ARG}; }` : ""}
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
  let i = ${flatIndex("g", WG)};
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

export function maxPoolTiles(p: MaxPoolParams): boolean {
  return p.sh === p.KH && p.sw === p.KW && p.ph === 0 && p.pw === 0 && p.H === p.OH * p.KH &&
    p.W === p.OW * p.KW && p.OW % 4 === 0;
}

export const maxPoolTiledKernel = defineKernel<MaxPoolParams>({
  name: "max_pool2d_tiled",
  wgsl(p) {
    // Invocation (plane, output row, q) pools windows 4q .. 4q + 3 of that row from KH rows of 4 * KW pixels.
    const q4 = p.OW / 4, n = p.planes * p.OH * q4;
    const lines: string[] = [];
    for (let kh = 0; kh < p.KH; kh++) {
      lines.push(`{ let r = (row * ${p.KH}u + ${kh}u) * ${p.W / 4}u + q * ${p.KW}u;`);
      for (let v = 0; v < p.KW; v++) lines.push(`let x${v} = X[r + ${v}u];`);
      for (let j = 0; j < 4; j++) {
        for (let kw = 0; kw < p.KW; kw++) {
          const x = j * p.KW + kw, c = "xyzw"[j];
          // Strictly greater keeps the first maximum in row-major window order, as the general kernel does.
          const v = `x${x >> 2}.${"xyzw"[x & 3]}`, at = `r * 4u + ${x}u`;
          lines.push(
            kh === 0 && kw === 0
              ? `m.${c} = ${v}; a.${c} = ${at};`
              : `if (${v} > m.${c}) { m.${c} = ${v}; a.${c} = ${at}; }`,
          );
        }
      }
      lines.push("}");
    }
    return `@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> Y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> A: array<vec4<u32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let q = i % ${q4}u;
  let row = i / ${q4}u;
  var m = vec4<f32>(0.0);
  var a = vec4<u32>(0u);
  ${lines.join("\n  ")}
  ${
      p.relu
        ? `let pos = m > vec4<f32>(0.0); m = select(vec4<f32>(0.0), m, pos); a = select(vec4<u32>(${NO_ARG}), a, pos);`
        : ""
    }
  Y[i] = m;
  A[i] = a;
}`;
  },
  dispatch: (p) => grid1d((p.planes * p.OH * p.OW) / 4, WG),
});

export const maxPoolTiledBackwardKernel = defineKernel<MaxPoolParams>({
  name: "max_pool2d_tiled_backward",
  wgsl(p) {
    // Invocation (plane, output row, q) writes the KH rows of 4 * KW input pixels under windows 4q .. 4q + 3,
    // reading their gradients and argmaxes once.
    const q4 = p.OW / 4, n = p.planes * p.OH * q4;
    const stores: string[] = [];
    for (let kh = 0; kh < p.KH; kh++) {
      stores.push(`{ let ii = (i / ${q4}u * ${p.KH}u + ${kh}u) * ${q4}u + i % ${q4}u;`);
      stores.push(`let base = ii * ${4 * p.KW}u;`);
      for (let v = 0; v < p.KW; v++) {
        const e = [0, 1, 2, 3].map((k) => {
          const x = 4 * v + k, j = "xyzw"[Math.floor(x / p.KW)];
          return `select(0.0, d.${j}, a.${j} == base + ${x}u)`;
        });
        stores.push(`DX[ii * ${p.KW}u + ${v}u] = vec4<f32>(${e.join(", ")});`);
      }
      stores.push("}");
    }
    return `@group(0) @binding(0) var<storage, read> DY: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> A: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> DX: array<vec4<f32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let a = A[i];
  let d = DY[i];
  ${stores.join("\n  ")}
}`;
  },
  dispatch: (p) => grid1d((p.planes * p.OH * p.OW) / 4, WG),
});

export interface AvgPoolGlobalParams {
  planes: number;
  HW: number;
}

function planeLayout(p: AvgPoolGlobalParams): { n: number; t: string } {
  return p.HW % 4 === 0 ? { n: p.HW / 4, t: "vec4<f32>" } : { n: p.HW, t: "f32" };
}

/** Y[plane] = the mean of relu(X) over the plane's HW pixels; one invocation per plane. */
export const avgPoolGlobalReluKernel = defineKernel<AvgPoolGlobalParams>({
  name: "avg_pool_global_relu",
  wgsl(p) {
    const { n, t } = planeLayout(p);
    return `@group(0) @binding(0) var<storage, read> X: array<${t}>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let plane = ${flatIndex("g", WG)};
  if (plane >= ${p.planes}u) { return; }
  var s = ${t}(0.0);
  for (var i = 0u; i < ${n}u; i++) { s += max(X[plane * ${n}u + i], ${t}(0.0)); }
  Y[plane] = ${n === p.HW ? "s" : "dot(s, vec4<f32>(1.0))"} * ${f32(1 / p.HW)};
}`;
  },
  dispatch: (p) => grid1d(p.planes, WG),
});

/** DX = DY[plane] / HW where X > 0, else 0; binds X, DY, DX; vec4s as the forward. */
export const avgPoolGlobalReluBackwardKernel = defineKernel<AvgPoolGlobalParams>({
  name: "avg_pool_global_relu_backward",
  wgsl(p) {
    const { n, t } = planeLayout(p);
    return `@group(0) @binding(0) var<storage, read> X: array<${t}>;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read_write> DX: array<${t}>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${p.planes * n}u) { return; }
  DX[i] = select(${t}(0.0), ${t}(DY[i / ${n}u] * ${f32(1 / p.HW)}), X[i] > ${t}(0.0));
}`;
  },
  dispatch: (p) => grid1d(p.planes * planeLayout(p).n, WG),
});
