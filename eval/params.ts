// The LVIS API's grid, built with numpy's `linspace` float operations, so every threshold is the identical double
// (the ninth IoU is 0.8999999999999999).

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
export const AREA_LABELS = ["all", "small", "medium", "large"] as const;
/** Frequency groups, in the order the reference bins categories. */
export const FREQUENCIES = ["r", "c", "f"] as const;
export type Frequency = typeof FREQUENCIES[number];

/** numpy's `np.spacing(1)`, added to the precision denominator. */
export const EPS = 2.220446049250313e-16;
export const T = 10;
export const R = 101;
export const A = 4;
export const AT = A * T;
