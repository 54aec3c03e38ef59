/**
 * NMS IoU bitmask over boxes sorted into class segments: row i covers j in [i + 1, END[i]) of its own segment, so
 * class-wise NMS costs the sum of the per-class squares, and stays exact where the coordinate-offset trick
 * degrades in f32 for large offsets.
 */
import { defineKernel, f32, flatIndex, grid1d } from "./kernel.ts";

export interface NmsMaskParams {
  iouThreshold: number;
  /** Number of boxes: sets the dispatch only, the kernel reads it from the uniform. */
  boxes: number;
}

const WG = 64;

export const nmsRowWords = (i: number, end: number): number => Math.ceil((end - i - 1) / 32);

/** Bindings: BOXES (vec4 per box, sorted), END (u32 per box), OFFSET (u32 per box), MASK (u32), uniform {n}. */
export const nmsMaskKernel = defineKernel<NmsMaskParams>({
  name: "nms_mask",
  key: (p) => `nms_mask:${f32(p.iouThreshold)}`,
  wgsl: (p) =>
    `@group(0) @binding(0) var<storage, read> BOXES: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> END: array<u32>;
@group(0) @binding(2) var<storage, read> OFFSET: array<u32>;
@group(0) @binding(3) var<storage, read_write> MASK: array<u32>;
struct U { n: u32 }
@group(0) @binding(4) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", WG)};
  if (i >= u.n) { return; }
  let a = BOXES[i];
  let area_a = (a.z - a.x) * (a.w - a.y);
  let end = END[i];
  var out = OFFSET[i];
  var bits = 0u;
  for (var j = i + 1u; j < end; j++) {
    let b = BOXES[j];
    let iw = max(min(a.z, b.z) - max(a.x, b.x), 0.0);
    let ih = max(min(a.w, b.w) - max(a.y, b.y), 0.0);
    let inter = iw * ih;
    let iou = inter / (area_a + (b.z - b.x) * (b.w - b.y) - inter);
    let bit = (j - i - 1u) & 31u;
    if (iou > ${f32(p.iouThreshold)}) { bits |= 1u << bit; }
    if (bit == 31u || j + 1u == end) {
      MASK[out] = bits;
      out++;
      bits = 0u;
    }
  }
}`,
  dispatch: (p) => grid1d(p.boxes, WG),
});
