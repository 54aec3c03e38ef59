/**
 * The fixed evaluation grid of the LVIS API: IoU thresholds, recall points and
 * area ranges, built with the same float operations as numpy's `linspace`, so
 * every threshold is the identical double (the ninth IoU is 0.8999999999999999).
 */

function _linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** IoU thresholds 0.5:0.05:0.95 (10 values). */
export const IOU_THRESHOLDS: Float64Array = _linspace(0.5, 0.95, 10);
/** Recall points 0:0.01:1 (101 values). */
export const RECALL_POINTS: Float64Array = _linspace(0, 1, 101);
/** Area ranges [lo, hi], bounds inclusive: all, small, medium, large. */
export const AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 * 32],
  [32 * 32, 96 * 96],
  [96 * 96, 1e10],
];
/** Labels of `AREA_RANGES`, in order. */
export const AREA_LABELS = ["all", "small", "medium", "large"] as const;
/** Frequency groups, in the order the reference bins categories. */
export const FREQUENCIES = ["r", "c", "f"] as const;
/** A frequency group label. */
export type Frequency = typeof FREQUENCIES[number];

/** numpy's `np.spacing(1)`, added to the precision denominator. */
export const EPS = 2.220446049250313e-16;
/** Number of IoU thresholds (T). */
export const T = 10;
/** Number of recall points (R). */
export const R = 101;
/** Number of area ranges (A). */
export const A = 4;
/** Number of (area, threshold) pairs. */
export const AT = A * T;
