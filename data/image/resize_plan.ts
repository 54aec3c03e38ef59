// Boxes and polygons go through the same resize plan as the pixels.

export interface ResizePlan {
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  flip: boolean;
}

/**
 * Shorter side to `shortSide` unless the longer would exceed `maxSize` (then the longer side is `maxSize`).
 *
 * @example
 * ```ts
 * import { planResize } from "./resize_plan.ts";
 * planResize({ width: 640, height: 480, shortSide: 800, maxSize: 1333, flip: false }).outWidth; // 1067
 * ```
 */
export function planResize(
  options: { width: number; height: number; shortSide: number; maxSize: number; flip: boolean },
): ResizePlan {
  const { width, height, shortSide, maxSize, flip } = options;
  const scale = Math.min(shortSide / Math.min(width, height), maxSize / Math.max(width, height));
  return {
    width,
    height,
    outWidth: Math.max(1, Math.round(width * scale)),
    outHeight: Math.max(1, Math.round(height * scale)),
    flip,
  };
}

/**
 * Map COCO boxes [x, y, w, h] to corner boxes [x1, y1, x2, y2] in the planned image.
 *
 * @example
 * ```ts
 * import { planResize, transformBoxes } from "./resize_plan.ts";
 * const plan = planResize({ width: 100, height: 50, shortSide: 100, maxSize: 1000, flip: true });
 * transformBoxes(plan, [10, 0, 20, 10]); // Float32Array [140, 0, 180, 20]
 * ```
 */
export function transformBoxes(plan: ResizePlan, xywh: ArrayLike<number>): Float32Array {
  const sx = plan.outWidth / plan.width;
  const sy = plan.outHeight / plan.height;
  const out = new Float32Array(xywh.length);
  for (let i = 0; i < xywh.length; i += 4) {
    let x1 = xywh[i] * sx;
    let x2 = (xywh[i] + xywh[i + 2]) * sx;
    if (plan.flip) [x1, x2] = [plan.outWidth - x2, plan.outWidth - x1];
    out[i] = x1;
    out[i + 1] = xywh[i + 1] * sy;
    out[i + 2] = x2;
    out[i + 3] = (xywh[i + 1] + xywh[i + 3]) * sy;
  }
  return out;
}

/**
 * Map a polygon's flat [x0, y0, ...] coordinates into the planned image.
 *
 * @example
 * ```ts
 * import { planResize, transformPolygon } from "./resize_plan.ts";
 * const plan = planResize({ width: 100, height: 50, shortSide: 100, maxSize: 1000, flip: true });
 * transformPolygon(plan, [10, 5, 20, 5, 20, 10]); // Float32Array [180, 10, 160, 10, 160, 20]
 * ```
 */
export function transformPolygon(plan: ResizePlan, coords: ArrayLike<number>): Float32Array {
  const sx = plan.outWidth / plan.width;
  const sy = plan.outHeight / plan.height;
  const out = new Float32Array(coords.length);
  for (let i = 0; i < coords.length; i += 2) {
    const x = coords[i] * sx;
    out[i] = plan.flip ? plan.outWidth - x : x;
    out[i + 1] = coords[i + 1] * sy;
  }
  return out;
}
