// IoU matrices of one (category, image): boxes with pycocotools' `bbIou` arithmetic (never crowd), masks with `rleIou`.
import type { Rle } from "./rle.ts";
import { rleIou, rleToBbox } from "./rle.ts";

/** Box IoU of detections `dtBox[4 * (dtStart + d)]` against ground truth `gtBox[4 * gtIndex[gtStart + g]]` at `out[d * n + g]`. */
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

export function maskIouMatrix(dt: Rle[], gt: Rle[], out: Float64Array): void {
  const dtBox = dt.map(rleToBbox), gtBox = gt.map(rleToBbox), n = gt.length;
  for (let d = 0; d < dt.length; d++) {
    for (let g = 0; g < n; g++) out[d * n + g] = rleIou(dt[d], dtBox[d], gt[g], gtBox[g]);
  }
}
