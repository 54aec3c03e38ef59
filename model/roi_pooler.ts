/**
 * Multi-scale RoIAlign (torchvision's MultiScaleRoIAlign): each RoI is
 * pooled from the pyramid level that torchvision's level mapper picks for
 * its size, floor(4 + log2(sqrt(area) / 224) + 1e-6) in float32, clamped to
 * the levels there are. RoIs are pooled level by level, so the pooled rows
 * come in level order; `order` maps them back to the RoIs given.
 */
import { roiAlign } from "./roi_align.ts";
import { concat } from "../tensor/ops_shape.ts";
import { Tensor } from "../tensor/tensor.ts";

/** Options of the level mapper and of the RoIAlign on each level. */
export interface PoolerOptions {
  /** Bins per side. */
  outputSize: number;
  /** Samples per bin and axis (torchvision: 2). */
  samplingRatio: number;
  /** The RoI side that maps to `canonicalLevel` (torchvision: 224). */
  canonicalSize: number;
  canonicalLevel: number;
  /** Half-pixel offset of RoIAlignV2 (torchvision's MultiScaleRoIAlign: false). */
  aligned: boolean;
}

/**
 * The level of each box, relative to `minLevel`, as torchvision's LevelMapper computes it
 * in float32: floor(canonicalLevel + log2(sqrt(area) / canonicalSize) + 1e-6), clamped.
 *
 * @example
 * ```ts
 * import { mapLevels } from "./roi_pooler.ts";
 * mapLevels([0, 0, 224, 224, 0, 0, 20, 20], { minLevel: 2, maxLevel: 5, canonicalSize: 224, canonicalLevel: 4 }); // [2, 0]
 * ```
 */
export function mapLevels(
  boxes: ArrayLike<number>,
  o: { minLevel: number; maxLevel: number; canonicalSize: number; canonicalLevel: number },
): Int32Array {
  const f = Math.fround, eps = f(1e-6), out = new Int32Array(boxes.length >> 2);
  for (let i = 0; i < out.length; i++) {
    const area = f(f(boxes[4 * i + 2] - boxes[4 * i]) * f(boxes[4 * i + 3] - boxes[4 * i + 1]));
    const level = Math.floor(f(f(o.canonicalLevel + f(Math.log2(f(f(Math.sqrt(area)) / o.canonicalSize)))) + eps));
    out[i] = Math.min(Math.max(level, o.minLevel), o.maxLevel) - o.minLevel;
  }
  return out;
}

/**
 * torchvision's scale of each feature map: 2^round(log2(feature height / largest image
 * height)), where the images are the unpadded ones; returns the scales and the first and last
 * level (-log2 of the first and last scale).
 *
 * @example
 * ```ts
 * import { inferScales } from "./roi_pooler.ts";
 * inferScales([56, 28, 14, 7], [[200, 210], [224, 160]]); // { scales: [0.25, 0.125, 0.0625, 0.03125], minLevel: 2, maxLevel: 5 }
 * ```
 */
export function inferScales(
  featureHeights: readonly number[],
  imageSizes: readonly (readonly [number, number])[],
): { scales: number[]; minLevel: number; maxLevel: number } {
  const maxH = Math.max(...imageSizes.map(([h]) => h));
  const scales = featureHeights.map((h) => 2 ** roundHalfEven(Math.log2(Math.fround(h / maxH))));
  return { scales, minLevel: -Math.log2(scales[0]), maxLevel: -Math.log2(scales.at(-1)!) };
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Pooled RoIs in level order, and where each row came from. */
export interface PooledRois {
  /** [R, C, P, P], rows in level order. */
  pooled: Tensor;
  /** Row j pooled RoI `order[j]` of the rows given. */
  order: Int32Array;
}

/**
 * Pool RoIs `rois` ([R, 5] rows of image index, x1, y1, x2, y2, on the host) from the pyramid
 * `levels` (finest first, consecutive powers of 2), given the unpadded image sizes.
 *
 * @example
 * ```ts
 * const { pooled, order } = poolRois([p2, p3, p4, p5], rois, sizes, { outputSize: 7, samplingRatio: 2, canonicalSize: 224, canonicalLevel: 4, aligned: false });
 * ```
 */
export function poolRois(
  levels: readonly Tensor[],
  rois: Float32Array,
  imageSizes: readonly (readonly [number, number])[],
  o: PoolerOptions,
): PooledRois {
  const n = rois.length / 5;
  const { scales, minLevel, maxLevel } = inferScales(levels.map((t) => t.shape[2]), imageSizes);
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) boxes.set(rois.subarray(5 * i + 1, 5 * i + 5), 4 * i);
  const lvl = levels.length === 1
    ? new Int32Array(n)
    : mapLevels(boxes, { minLevel, maxLevel, canonicalSize: o.canonicalSize, canonicalLevel: o.canonicalLevel });
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => lvl[a] - lvl[b] || a - b);
  const parts: Tensor[] = [];
  let start = 0;
  levels.forEach((feat, l) => {
    let end = start;
    while (end < n && lvl[order[end]] === l) end++;
    if (end === start) return;
    const sel = new Float32Array(5 * (end - start));
    for (let j = start; j < end; j++) sel.set(rois.subarray(5 * order[j], 5 * order[j] + 5), 5 * (j - start));
    parts.push(roiAlign(feat, Tensor.from(sel, [end - start, 5]), {
      outputSize: o.outputSize,
      spatialScale: scales[l],
      samplingRatio: o.samplingRatio,
      aligned: o.aligned,
    }));
    start = end;
  });
  if (parts.length === 0) {
    const [, C] = levels[0].shape;
    return { pooled: new Tensor([0, C, o.outputSize, o.outputSize]), order };
  }
  return { pooled: parts.length === 1 ? parts[0] : concat(parts, 0), order };
}
