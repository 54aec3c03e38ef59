/**
 * The IoU bitmask of non-maximum suppression over boxes sorted into group
 * (class) segments, each by descending score. Row i covers the later boxes
 * of its own segment only, j in [i + 1, END[i]): bit (j - i - 1) of the row,
 * which starts at word OFFSET[i], is set when IoU(i, j) > threshold, i.e.
 * when keeping i suppresses j. Rows are triangular and stop at the segment
 * end, so class-wise NMS over many classes costs the sum of the per-class
 * squares, not the square of the total; and comparing within a segment is
 * exactly per-class NMS, which the coordinate-offset trick only
 * approximates in f32 once the offsets grow large.
 */
import { defineKernel, f32, flatIndex, grid1d } from "./kernel.ts";

export interface NmsMaskParams {
  /** Suppress when IoU > this. */
  iouThreshold: number;
  /** Number of boxes: sets the dispatch only, the kernel reads it from the uniform. */
  boxes: number;
}

const WG = 64;

/** Words of the mask row of a box at sorted position i in a segment ending at `end`. */
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
