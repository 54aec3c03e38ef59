/**
 * Instance masks for tests and benchmarks without mask data: each object is
 * the ellipse inscribed in its box, and a RoI's target samples it at the
 * centres of an M x M grid over the RoI.
 */
import type { MaskTargetSource } from "../../model/detector.ts";

/** Targets of the ellipses inscribed in `gtBoxes` (flat x1, y1, x2, y2). */
export function ellipseMasks(gtBoxes: Float32Array): MaskTargetSource {
  return {
    targets(boxes, matched, size) {
      const out = new Float32Array(boxes.length / 4 * size * size);
      for (let r = 0; r < boxes.length / 4; r++) {
        const [x1, y1, x2, y2] = boxes.subarray(4 * r, 4 * r + 4);
        const g = gtBoxes.subarray(4 * matched[r], 4 * matched[r] + 4);
        const cx = (g[0] + g[2]) / 2, cy = (g[1] + g[3]) / 2, rx = (g[2] - g[0]) / 2, ry = (g[3] - g[1]) / 2;
        for (let i = 0; i < size; i++) {
          for (let j = 0; j < size; j++) {
            const px = x1 + (j + 0.5) * (x2 - x1) / size, py = y1 + (i + 0.5) * (y2 - y1) / size;
            out[(r * size + i) * size + j] = ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1 ? 1 : 0;
          }
        }
      }
      return out;
    },
  };
}
