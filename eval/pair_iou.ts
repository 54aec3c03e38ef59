/**
 * IoU matrices of one (category, image): boxes with pycocotools' `bbIou`
 * arithmetic (never crowd), masks with its `rleIou`.
 */
import type { Rle } from "./rle.ts";
import { rleIou, rleToBbox } from "./rle.ts";

/**
 * Box IoU of detections `dtBox[4 * (dtStart + d)]` against ground truth `gtBox[4 * gtIndex[gtStart + g]]`,
 * written to `out[d * n + g]`.
 *
 * @example
 * ```ts
 * const out = new Float64Array(1);
 * boxIouMatrix({ dtBox: new Float64Array([0, 0, 10, 10]), dtStart: 0, m: 1 },
 *   { gtBox: new Float64Array([0, 0, 10, 20]), gtIndex: new Int32Array([0]), gtStart: 0, n: 1 }, out);
 * out[0]; // 0.5
 * ```
 */
export function boxIouMatrix(
  dts: { dtBox: Float64Array; dtStart: number; m: number },
  gts: { gtBox: Float64Array; gtIndex: Int32Array; gtStart: number; n: number },
  out: Float64Array,
): void {
  const { dtBox, dtStart, m } = dts, { gtBox, gtIndex, gtStart, n } = gts;
  for (let g = 0; g < n; g++) {
    const gb = 4 * gtIndex[gtStart + g];
    const gx = gtBox[gb], gy = gtBox[gb + 1], gw = gtBox[gb + 2], gh = gtBox[gb + 3], ga = gw * gh;
    for (let d = 0; d < m; d++) {
      const db = 4 * (dtStart + d);
      const dx = dtBox[db], dy = dtBox[db + 1], dw = dtBox[db + 2], dh = dtBox[db + 3];
      let v = 0;
      const iw = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
      if (iw > 0) {
        const ih = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
        if (ih > 0) {
          const inter = iw * ih;
          v = inter / (dw * dh + ga - inter);
        }
      }
      out[d * n + g] = v;
    }
  }
}

/**
 * Mask IoU of `dt[d]` against `gt[g]`, written to `out[d * n + g]`.
 *
 * @example
 * ```ts
 * maskIouMatrix([mask], [mask], new Float64Array(1));
 * ```
 */
export function maskIouMatrix(dt: Rle[], gt: Rle[], out: Float64Array): void {
  const dtBox = dt.map(rleToBbox), gtBox = gt.map(rleToBbox), n = gt.length;
  for (let d = 0; d < dt.length; d++) {
    for (let g = 0; g < n; g++) out[d * n + g] = rleIou(dt[d], dtBox[d], gt[g], gtBox[g]);
  }
}
