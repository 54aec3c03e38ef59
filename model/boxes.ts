/**
 * Box utilities on flat (x1, y1, x2, y2) image pixels, as torchvision/detectron2: width = x2 - x1
 * (no +1). IoU and the coder round each op to float32 in torchvision's order, so thresholds decide alike.
 */

const f = Math.fround;

/** Flat boxes: box i is [4i, 4i + 4) as x1, y1, x2, y2. */
export type Boxes = ArrayLike<number>;

/** Weights of (dx, dy, dw, dh): (1, 1, 1, 1) for the RPN, (10, 10, 5, 5) for the box head. */
export type CoderWeights = readonly [number, number, number, number];

/** The largest dw or dh that decoding applies: boxes grow at most 1000/16 times. */
export const SCALE_CLAMP = Math.log(1000 / 16);

/** IoU of every box in `a` with every box in `b`, row-major [a.length / 4, b.length / 4]; 0 for an empty union. */
export function pairwiseIou(a: Boxes, b: Boxes): Float32Array {
  const na = a.length >> 2, nb = b.length >> 2;
  const out = new Float32Array(na * nb);
  const areaB = new Float32Array(nb);
  for (let j = 0; j < nb; j++) areaB[j] = f(f(b[4 * j + 2] - b[4 * j]) * f(b[4 * j + 3] - b[4 * j + 1]));
  for (let i = 0; i < na; i++) {
    const ax1 = a[4 * i], ay1 = a[4 * i + 1], ax2 = a[4 * i + 2], ay2 = a[4 * i + 3];
    const areaA = f(f(ax2 - ax1) * f(ay2 - ay1));
    for (let j = 0; j < nb; j++) {
      const iw = f(Math.min(ax2, b[4 * j + 2]) - Math.max(ax1, b[4 * j]));
      const ih = f(Math.min(ay2, b[4 * j + 3]) - Math.max(ay1, b[4 * j + 1]));
      if (iw <= 0 || ih <= 0) continue;
      const inter = f(iw * ih);
      out[i * nb + j] = inter / f(f(areaA + areaB[j]) - inter);
    }
  }
  return out;
}

/** Deltas (dx, dy, dw, dh) that turn each box of `from` into the same box of `to`. */
export function encodeBoxes(from: Boxes, to: Boxes, weights: CoderWeights = [1, 1, 1, 1]): Float32Array {
  const n = from.length >> 2;
  const out = new Float32Array(n * 4);
  const [wx, wy, ww, wh] = weights.map(f);
  for (let i = 0; i < n; i++) {
    const k = 4 * i;
    const pw = f(from[k + 2] - from[k]), ph = f(from[k + 3] - from[k + 1]);
    const px = f(from[k] + f(0.5 * pw)), py = f(from[k + 1] + f(0.5 * ph));
    const tw = f(to[k + 2] - to[k]), th = f(to[k + 3] - to[k + 1]);
    const tx = f(to[k] + f(0.5 * tw)), ty = f(to[k + 1] + f(0.5 * th));
    out[k] = f(wx * f(tx - px)) / pw;
    out[k + 1] = f(wy * f(ty - py)) / ph;
    out[k + 2] = ww * f(Math.log(f(tw / pw)));
    out[k + 3] = wh * f(Math.log(f(th / ph)));
  }
  return out;
}

export interface DecodeOptions {
  weights?: CoderWeights;
  /** Clip the decoded boxes to [0, width] x [0, height]. */
  clip?: { height: number; width: number };
}

/**
 * Apply deltas: `deltas` has `k` groups of 4 per box (class-specific: k = classes), each against the
 * same box; dw and dh are clamped at `SCALE_CLAMP` after dividing by their weights.
 */
export function decodeBoxes(deltas: ArrayLike<number>, boxes: Boxes, opts: DecodeOptions = {}): Float32Array {
  const [wx, wy, ww, wh] = (opts.weights ?? [1, 1, 1, 1]).map(f);
  const n = boxes.length >> 2;
  const k = n === 0 ? 0 : deltas.length / (4 * n);
  if (!Number.isInteger(k)) throw new Error(`Cannot decode ${deltas.length} deltas against ${n} boxes`);
  const out = new Float32Array(deltas.length), clamp = f(SCALE_CLAMP);
  for (let i = 0; i < n; i++) {
    const w = f(boxes[4 * i + 2] - boxes[4 * i]), h = f(boxes[4 * i + 3] - boxes[4 * i + 1]);
    const cx = f(boxes[4 * i] + f(0.5 * w)), cy = f(boxes[4 * i + 1] + f(0.5 * h));
    for (let g = 0; g < k; g++) {
      const d = 4 * (i * k + g);
      const x = f(f(f(deltas[d] / wx) * w) + cx), y = f(f(f(deltas[d + 1] / wy) * h) + cy);
      const hw = f(0.5 * f(f(Math.exp(Math.min(f(deltas[d + 2] / ww), clamp))) * w));
      const hh = f(0.5 * f(f(Math.exp(Math.min(f(deltas[d + 3] / wh), clamp))) * h));
      out[d] = x - hw;
      out[d + 1] = y - hh;
      out[d + 2] = x + hw;
      out[d + 3] = y + hh;
    }
  }
  if (opts.clip) clipBoxes(out, opts.clip);
  return out;
}

/** Clip boxes to [0, width] x [0, height], in place; returns them. */
export function clipBoxes<T extends Float32Array | Float64Array>(boxes: T, size: { height: number; width: number }): T {
  for (let i = 0; i < boxes.length; i += 4) {
    boxes[i] = Math.min(Math.max(boxes[i], 0), size.width);
    boxes[i + 1] = Math.min(Math.max(boxes[i + 1], 0), size.height);
    boxes[i + 2] = Math.min(Math.max(boxes[i + 2], 0), size.width);
    boxes[i + 3] = Math.min(Math.max(boxes[i + 3], 0), size.height);
  }
  return boxes;
}

/**
 * Indices of boxes whose width and height both exceed `minSize` (and are finite); with `inclusive`,
 * at least `minSize` (torchvision's `remove_small_boxes`).
 */
export function nonEmptyBoxes(boxes: Boxes, minSize = 0, inclusive = false): number[] {
  const keep: number[] = [];
  const m = f(minSize);
  for (let i = 0; i < boxes.length >> 2; i++) {
    const w = f(boxes[4 * i + 2] - boxes[4 * i]), h = f(boxes[4 * i + 3] - boxes[4 * i + 1]);
    if (inclusive ? w >= m && h >= m : w > minSize && h > minSize) keep.push(i);
  }
  return keep;
}
