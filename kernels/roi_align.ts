/**
 * RoIAlign (detectron2 / torchvision semantics); forward and backward share one WGSL prelude, so the arithmetic
 * is the same. The backward is a deterministic gather (no f32 atomics in WGSL): RoIs binned per 8x8 pixel tile,
 * separable bin weights per RoI, then contributions summed in RoI order.
 */
import { defineKernel, f32, flatIndex, grid1d, groups } from "./kernel.ts";

export interface RoiAlignParams {
  batch: number;
  channels: number;
  height: number;
  width: number;
  pooled: number;
  /** Samples per bin and axis; 0 = adaptive, ceil(RoI size / pooled). */
  samplingRatio: number;
  spatialScale: number;
  /** Half-pixel offset (detectron2 ROIAlignV2); without it, RoIs are at least 1 pixel. */
  aligned: boolean;
  rois: number;
  chunk?: number;
}

export const TILE = 8;
const WG = 64;

const roiAlignKey = (name: string) => (p: RoiAlignParams) => {
  const { rois: _, ...rest } = p;
  return `${name}:${JSON.stringify({ ...rest, chunk: p.chunk ?? 16 })}`;
};

export function roiAlignTiles(p: RoiAlignParams): [number, number] {
  return [Math.ceil(p.width / TILE), Math.ceil(p.height / TILE)];
}

function roiAlignPrelude(p: RoiAlignParams): string {
  const s = p.samplingRatio;
  const grid = (len: string) => s > 0 ? `${s}u` : `u32(max(ceil(${len} / f32(P)), 0.0))`;
  return `const C = ${p.channels}u; const H = ${p.height}; const W = ${p.width}; const P = ${p.pooled}u;
struct U { rois: u32 }
struct Geo { b: i32, x0: f32, y0: f32, bw: f32, bh: f32, gw: u32, gh: u32, inv: f32 }
fn geo(r: u32) -> Geo {
  let o = r * 5u;
  let off = ${p.aligned ? "0.5" : "0.0"};
  let x0 = ROIS[o + 1u] * ${f32(p.spatialScale)} - off;
  let y0 = ROIS[o + 2u] * ${f32(p.spatialScale)} - off;
  var rw = ROIS[o + 3u] * ${f32(p.spatialScale)} - off - x0;
  var rh = ROIS[o + 4u] * ${f32(p.spatialScale)} - off - y0;
  ${p.aligned ? "" : "rw = max(rw, 1.0); rh = max(rh, 1.0);"}
  let gw = ${grid("rw")}; let gh = ${grid("rh")};
  return Geo(i32(floor(ROIS[o])), x0, y0, rw / f32(P), rh / f32(P), gw, gh, 1.0 / f32(max(gw * gh, 1u)));
}
// The k-th sample along an axis, in the forward's exact arithmetic.
fn sample_at(start: f32, bin: f32, g: u32, k: u32) -> f32 {
  return start + f32(k / g) * bin + (f32(k % g) + 0.5) * bin / f32(g);
}
struct Ax { lo: i32, hi: i32, wl: f32, wh: f32 }
// Bilinear indices and weights along one axis; zero weights outside [-1, n].
fn axis(v: f32, n: i32) -> Ax {
  if (v < -1.0 || v > f32(n)) { return Ax(0, 0, 0.0, 0.0); }
  var t = max(v, 0.0);
  var lo = i32(t);
  var hi = lo + 1;
  if (lo >= n - 1) { lo = n - 1; hi = n - 1; t = f32(lo); }
  let l = t - f32(lo);
  return Ax(lo, hi, 1.0 - l, l);
}
// The weight that a sample at v gives to pixel q along one axis.
fn axis_w(v: f32, q: i32, n: i32) -> f32 {
  let a = axis(v, n);
  return select(0.0, a.wl, a.lo == q) + select(0.0, a.wh, a.hi == q);
}`;
}

/** Channels-last [N, S, C4 * 4]: llvmpipe's scalar loads are bounds-checked gathers, so vec4s win (BENCHMARKS.md). */
export interface ChannelsLastParams {
  channels: number;
  spatial: number;
  n: number;
}

export const paddedChannels = (c: number): number => Math.ceil(c / 4) * 4;

/** The channels-last copy. Bindings: X, Y (vec4), uniform {n}. */
export const channelsLastKernel = defineKernel<ChannelsLastParams>({
  name: "roi_align_channels_last",
  key: (p) => `roi_align_channels_last:${p.channels}:${p.spatial}`,
  wgsl(p) {
    const c4 = paddedChannels(p.channels) / 4, S = p.spatial, C = p.channels;
    // One vec4 of output per invocation, consecutive invocations along S: contiguous reads.
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<vec4<f32>>;
struct U { n: u32 }
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", WG)};
  if (i >= u.n * ${S * c4}u) { return; }
  let s = i % ${S}u; let q = (i / ${S}u) % ${c4}u; let n = i / ${S * c4}u;
  let base = (n * ${C}u + 4u * q) * ${S}u + s;
  var v = vec4<f32>(0.0);
  for (var e = 0u; e < 4u; e++) {
    if (4u * q + e < ${C}u) { v[e] = X[base + e * ${S}u]; }
  }
  Y[(n * ${S}u + s) * ${c4}u + q] = v;
}`;
  },
  dispatch: (p) => {
    return grid1d(p.n * p.spatial * paddedChannels(p.channels) / 4, WG);
  },
});

function vecsPerInvocation(p: RoiAlignParams): number {
  return Math.min(Math.ceil((p.chunk ?? 16) / 4), paddedChannels(p.channels) / 4);
}

/** Y[r, c, ph, pw] = mean of bilinear(X) over the bin; lanes over neighbouring bins, whose loads share cache lines. */
export const roiAlignForwardKernel = defineKernel<RoiAlignParams>({
  name: "roi_align_fwd",
  key: roiAlignKey("roi_align_fwd"),
  wgsl(p) {
    const v = vecsPerInvocation(p), c4 = paddedChannels(p.channels) / 4;
    const nChunks = Math.ceil(c4 / v);
    return `@group(0) @binding(0) var<storage, read> X4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ROIS: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
${roiAlignPrelude(p)}
const C4 = ${c4}u; const V = ${v}u;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", WG)};
  if (i >= u.rois * ${nChunks * p.pooled * p.pooled}u) { return; }
  let pw = i % P; let ph = (i / P) % P;
  let q0 = ((i / (P * P)) % ${nChunks}u) * V;
  let r = i / (P * P * ${nChunks}u);
  let g = geo(r);
  var acc: array<vec4<f32>, ${v}>;
  for (var k = 0u; k < V; k++) { acc[k] = vec4<f32>(0.0); }
  if (g.b >= 0 && g.b < ${p.batch}) {
    let img = u32(g.b) * u32(H * W);
    for (var iy = 0u; iy < g.gh; iy++) {
      let ay = axis(sample_at(g.y0, g.bh, g.gh, ph * g.gh + iy), H);
      if (ay.wl + ay.wh == 0.0) { continue; }
      for (var ix = 0u; ix < g.gw; ix++) {
        let ax = axis(sample_at(g.x0, g.bw, g.gw, pw * g.gw + ix), W);
        let w1 = ay.wl * ax.wl; let w2 = ay.wl * ax.wh; let w3 = ay.wh * ax.wl; let w4 = ay.wh * ax.wh;
        let o1 = (img + u32(ay.lo * W + ax.lo)) * C4; let o2 = (img + u32(ay.lo * W + ax.hi)) * C4;
        let o3 = (img + u32(ay.hi * W + ax.lo)) * C4; let o4 = (img + u32(ay.hi * W + ax.hi)) * C4;
        for (var k = 0u; k < V; k++) {
          let q = min(q0 + k, C4 - 1u);
          acc[k] += w1 * X4[o1 + q] + w2 * X4[o2 + q] + w3 * X4[o3 + q] + w4 * X4[o4 + q];
        }
      }
    }
  }
  for (var k = 0u; k < V; k++) {
    for (var e = 0u; e < 4u; e++) {
      let c = (q0 + k) * 4u + e;
      if (c < C) { Y[((r * C + c) * P + ph) * P + pw] = acc[k][e] * g.inv; }
    }
  }
}`;
  },
  dispatch: (p) => {
    const c4 = paddedChannels(p.channels) / 4;
    const n = p.rois * Math.ceil(c4 / vecsPerInvocation(p)) * p.pooled * p.pooled;
    return grid1d(n, WG);
  },
});

/** Per (image, tile): COUNT[t] and the RoIs that can touch it, in RoI order, at LIST[t * rois + k]. */
export const roiAlignBinKernel = defineKernel<RoiAlignParams>({
  name: "roi_align_bin",
  key: roiAlignKey("roi_align_bin"),
  wgsl(p) {
    const [tx, ty] = roiAlignTiles(p);
    return `@group(0) @binding(0) var<storage, read> ROIS: array<f32>;
@group(0) @binding(1) var<storage, read_write> COUNT: array<u32>;
@group(0) @binding(2) var<storage, read_write> LIST: array<u32>;
@group(0) @binding(3) var<uniform> u: U;
${roiAlignPrelude(p)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= ${p.batch * tx * ty}u) { return; }
  let b = i32(t / ${tx * ty}u);
  let ty0 = i32((t / ${tx}u) % ${ty}u) * ${TILE}; let tx0 = i32(t % ${tx}u) * ${TILE};
  var n = 0u;
  for (var r = 0u; r < u.rois; r++) {
    let g = geo(r);
    if (g.b != b || g.gh == 0u || g.gw == 0u) { continue; }
    // Pixels a sample at v can touch lie in [floor(v) - 1, floor(v) + 2]: a safe superset.
    let ya = sample_at(g.y0, g.bh, g.gh, 0u); let yb = sample_at(g.y0, g.bh, g.gh, P * g.gh - 1u);
    let xa = sample_at(g.x0, g.bw, g.gw, 0u); let xb = sample_at(g.x0, g.bw, g.gw, P * g.gw - 1u);
    let ylo = i32(floor(clamp(min(ya, yb), -2.0, f32(H + 1)))) - 1;
    let yhi = i32(floor(clamp(max(ya, yb), -2.0, f32(H + 1)))) + 2;
    let xlo = i32(floor(clamp(min(xa, xb), -2.0, f32(W + 1)))) - 1;
    let xhi = i32(floor(clamp(max(xa, xb), -2.0, f32(W + 1)))) + 2;
    if (yhi < ty0 || ylo > ty0 + ${TILE - 1} || xhi < tx0 || xlo > tx0 + ${TILE - 1}) { continue; }
    LIST[t * u.rois + n] = r;
    n++;
  }
  COUNT[t] = n;
}`;
  },
  dispatch: (p) => {
    const [tx, ty] = roiAlignTiles(p);
    return [groups(p.batch * tx * ty, WG), 1, 1];
  },
});

/**
 * Separable backward weights: bin (ph, pw) on pixel (y, x) weighs WY[r, y, ph] * WX[r, x, pw]; RY, RX pack the
 * range of non-zero bins as lo | (end << 16).
 */
export const roiAlignWeightsKernel = defineKernel<RoiAlignParams>({
  name: "roi_align_weights",
  key: roiAlignKey("roi_align_weights"),
  wgsl(p) {
    return `@group(0) @binding(0) var<storage, read> ROIS: array<f32>;
@group(0) @binding(1) var<storage, read_write> WY: array<f32>;
@group(0) @binding(2) var<storage, read_write> WX: array<f32>;
@group(0) @binding(3) var<storage, read_write> RY: array<u32>;
@group(0) @binding(4) var<storage, read_write> RX: array<u32>;
@group(0) @binding(5) var<uniform> u: U;
${roiAlignPrelude(p)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", WG)};
  if (i >= u.rois * u32(H + W)) { return; }
  let r = i / u32(H + W); let q = i32(i % u32(H + W));
  let g = geo(r);
  let is_y = q < H;
  let start = select(g.x0, g.y0, is_y); let bin = select(g.bw, g.bh, is_y); let n = select(g.gw, g.gh, is_y);
  let pix = select(q - H, q, is_y); let len = select(W, H, is_y);
  let row = r * u32(len) + u32(pix);
  var lo = P; var end = 0u;
  for (var b = 0u; b < P; b++) {
    var s = 0.0;
    for (var k = 0u; k < n; k++) { s += axis_w(sample_at(start, bin, n, b * n + k), pix, len); }
    let w = select(0.0, s / f32(n), n > 0u);
    if (w != 0.0) { lo = min(lo, b); end = b + 1u; }
    if (is_y) { WY[row * P + b] = w; } else { WX[row * P + b] = w; }
  }
  let range = select(0u, lo | (end << 16u), end > 0u);
  if (is_y) { RY[row] = range; } else { RX[row] = range; }
}`;
  },
  dispatch: (p) => {
    return grid1d(p.rois * (p.height + p.width), WG);
  },
});

function laneLayout(p: RoiAlignParams): { perLane: number; blocks: number } {
  const c4 = paddedChannels(p.channels) / 4;
  const perLane = Math.min(Math.ceil((p.chunk ?? 16) / 4), Math.ceil(c4 / 8));
  return { perLane, blocks: Math.ceil(c4 / (8 * perLane)) };
}

/**
 * DX by gather, with DY channels last: 8 invocations per pixel and channel block, lanes over vec4 channel groups,
 * so all RoI and bin logic is uniform across the SIMD lanes.
 */
export const roiAlignBackwardKernel = defineKernel<RoiAlignParams>({
  name: "roi_align_bwd",
  key: roiAlignKey("roi_align_bwd"),
  wgsl(p) {
    const [tx, ty] = roiAlignTiles(p);
    const { perLane, blocks } = laneLayout(p);
    return `@group(0) @binding(0) var<storage, read> DY4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> WY: array<f32>;
@group(0) @binding(2) var<storage, read> WX: array<f32>;
@group(0) @binding(3) var<storage, read> RY: array<u32>;
@group(0) @binding(4) var<storage, read> RX: array<u32>;
@group(0) @binding(5) var<storage, read> COUNT: array<u32>;
@group(0) @binding(6) var<storage, read> LIST: array<u32>;
@group(0) @binding(7) var<storage, read_write> DX: array<f32>;
@group(0) @binding(8) var<uniform> u: U;
const C = ${p.channels}u; const C4 = ${paddedChannels(p.channels) / 4}u;
const H = ${p.height}u; const W = ${p.width}u; const P = ${p.pooled}u;
const K = ${perLane}u;
struct U { rois: u32 }
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let x = wid.x; let y = wid.y; let b = wid.z / ${blocks}u;
  let q0 = (wid.z % ${blocks}u) * ${8 * perLane}u + lid.x;
  let t = b * ${tx * ty}u + (y / ${TILE}u) * ${tx}u + x / ${TILE}u;
  var acc: array<vec4<f32>, ${perLane}>;
  for (var j = 0u; j < K; j++) { acc[j] = vec4<f32>(0.0); }
  let n = COUNT[t];
  for (var k = 0u; k < n; k++) {
    let r = LIST[t * u.rois + k];
    let ry = RY[r * H + y];
    if (ry == 0u) { continue; }
    let rx = RX[r * W + x];
    if (rx == 0u) { continue; }
    for (var ph = ry & 0xffffu; ph < (ry >> 16u); ph++) {
      let wy = WY[(r * H + y) * P + ph];
      for (var pw = rx & 0xffffu; pw < (rx >> 16u); pw++) {
        let w = wy * WX[(r * W + x) * P + pw];
        let o = ((r * P + ph) * P + pw) * C4;
        for (var j = 0u; j < K; j++) { acc[j] += w * DY4[o + min(q0 + 8u * j, C4 - 1u)]; }
      }
    }
  }
  for (var j = 0u; j < K; j++) {
    for (var e = 0u; e < 4u; e++) {
      let c = (q0 + 8u * j) * 4u + e;
      if (c < C) { DX[((b * C + c) * H + y) * W + x] = acc[j][e]; }
    }
  }
}`;
  },
  dispatch: (p) => [p.width, p.height, p.batch * laneLayout(p).blocks],
});
