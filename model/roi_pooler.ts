/**
 * torchvision's MultiScaleRoIAlign: each RoI pools from the level its LevelMapper picks; rows come
 * in level order and `order` maps them back to the RoIs given.
 */
import { roiAlign } from "./roi_align.ts";
import { concat } from "../tensor/ops_shape.ts";
import { Tensor } from "../tensor/tensor.ts";

export interface PoolerOptions {
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
 * Level of each box relative to `minLevel`, as torchvision's LevelMapper in float32:
 * floor(canonicalLevel + log2(sqrt(area) / canonicalSize) + 1e-6), clamped.
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
 * torchvision's scale per feature map: 2^round(log2(feature height / largest unpadded image height));
 * returns the scales and the first and last level (-log2 of the first and last scale).
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

export interface PooledRois {
  /** [R, C, P, P], rows in level order. */
  pooled: Tensor;
  /** Row j pooled RoI `order[j]` of the rows given. */
  order: Int32Array;
}

/** Pool RoIs [R, 5] (image index, x1, y1, x2, y2, host-side) from `levels` (finest first, powers of 2). */
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
