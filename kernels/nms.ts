/**
 * The IoU bitmask of non-maximum suppression: over boxes sorted by score,
 * bit j of MASK[i * words + j / 32] is set when j > i, both boxes are in the
 * same group (class) and IoU(i, j) > threshold, i.e. when keeping i
 * suppresses j. A greedy pass over the rows then picks the survivors.
 * Comparing group ids gives exactly per-class NMS, which the coordinate-
 * offset trick only approximates in f32 once the offsets grow large.
 */
import { defineKernel, f32, grid1d } from "./kernel.ts";

export interface NmsMaskParams {
  /** Suppress when IoU > this. */
  iouThreshold: number;
  /** Number of boxes: sets the dispatch only, the kernel reads it from the uniform. */
  boxes: number;
}

const WG = 64;

/** 32-bit words per mask row. */
export const nmsWords = (n: number): number => Math.ceil(n / 32);

/** Bindings: BOXES (x1, y1, x2, y2 per box, sorted by score), GROUP (i32 per box), MASK (u32), uniform {n, words}. */
export const nmsMaskKernel = defineKernel<NmsMaskParams>({
  name: "nms_mask",
  key: (p) => `nms_mask:${f32(p.iouThreshold)}`,
  wgsl: (p) =>
    `@group(0) @binding(0) var<storage, read> BOXES: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> GROUP: array<i32>;
@group(0) @binding(2) var<storage, read_write> MASK: array<u32>;
struct U { n: u32, words: u32 }
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * ${65535 * WG}u;
  if (idx >= u.n * u.words) { return; }
  let i = idx / u.words; let word = idx % u.words;
  let j0 = word * 32u;
  var bits = 0u;
  // Only later (lower-scored) boxes can be suppressed by box i.
  if (j0 + 31u > i) {
    let a = BOXES[i];
    let area_a = (a.z - a.x) * (a.w - a.y);
    let gi = GROUP[i];
    let j1 = min(j0 + 32u, u.n);
    for (var j = max(j0, i + 1u); j < j1; j++) {
      let b = BOXES[j];
      let iw = max(min(a.z, b.z) - max(a.x, b.x), 0.0);
      let ih = max(min(a.w, b.w) - max(a.y, b.y), 0.0);
      let inter = iw * ih;
      let iou = inter / (area_a + (b.z - b.x) * (b.w - b.y) - inter);
      if (GROUP[j] == gi && iou > ${f32(p.iouThreshold)}) { bits |= 1u << (j - j0); }
    }
  }
  MASK[idx] = bits;
}`,
  dispatch: (p) => grid1d(p.boxes * nmsWords(p.boxes), WG),
});
