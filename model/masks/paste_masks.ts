/**
 * torchvision 0.14's `paste_masks_in_image`: pad each M x M map by one zero pixel, expand its box by
 * (M + 2) / M truncated to integers, resize bilinearly, threshold; one {@link CroppedMask} per detection.
 */
import type { CroppedMask } from "../../eval/rle_encode.ts";

const f = Math.fround;

export interface PasteOptions {
  /** Original image size. */
  imageHeight: number;
  imageWidth: number;
  /** A pixel is foreground when its probability is above this. Default 0.5 (torchvision's evaluation). */
  threshold?: number;
}

/**
 * Paste masks `probs` [N, M, M] (each detection's class) into boxes [x1, y1, x2, y2] in original pixels.
 *
 * @example
 * ```ts
 * import { pasteMasks } from "./paste_masks.ts";
 * import { maskToSegmentation } from "../../eval/rle_encode.ts";
 * const probs = new Float32Array(28 * 28).fill(0.9);
 * const [mask] = pasteMasks(probs, [10, 20, 50, 40], { imageHeight: 64, imageWidth: 64 });
 * maskToSegmentation(mask); // { size: [64, 64], counts: "..." }
 * ```
 */
export function pasteMasks(probs: Float32Array, boxes: ArrayLike<number>, options: PasteOptions): CroppedMask[] {
  const n = boxes.length / 4;
  const { imageHeight: ih, imageWidth: iw } = options;
  if (!Number.isInteger(n)) throw new Error(`pasteMasks: expected 4 numbers per box, got ${boxes.length}`);
  const m = n > 0 ? Math.round(Math.sqrt(probs.length / n)) : 0;
  if (n > 0 && m * m * n !== probs.length) {
    throw new Error(`pasteMasks: ${probs.length} probabilities are not ${n} square masks`);
  }
  const threshold = f(options.threshold ?? 0.5);
  const p = m + 2;
  // torchvision scales the box by this Python float, which meets a float32 tensor as float32.
  const scale = f(p / m);
  const padded = new Float32Array(p * p);
  const out: CroppedMask[] = [];
  for (let i = 0; i < n; i++) {
    const bx1 = f(boxes[4 * i]), by1 = f(boxes[4 * i + 1]), bx2 = f(boxes[4 * i + 2]), by2 = f(boxes[4 * i + 3]);
    const wHalf = f(f(f(bx2 - bx1) * 0.5) * scale), hHalf = f(f(f(by2 - by1) * 0.5) * scale);
    const xc = f(f(bx2 + bx1) * 0.5), yc = f(f(by2 + by1) * 0.5);
    // Expanded box, truncated toward zero as `.to(torch.int64)` does.
    const ex1 = Math.trunc(f(xc - wHalf)), ex2 = Math.trunc(f(xc + wHalf));
    const ey1 = Math.trunc(f(yc - hHalf)), ey2 = Math.trunc(f(yc + hHalf));
    const w = Math.max(ex2 - ex1 + 1, 1), h = Math.max(ey2 - ey1 + 1, 1);
    const x0 = Math.max(ex1, 0), x1 = Math.min(ex2 + 1, iw), y0 = Math.max(ey1, 0), y1 = Math.min(ey2 + 1, ih);
    const cropWidth = Math.max(0, x1 - x0), cropHeight = Math.max(0, y1 - y0);
    const bits = new Uint8Array(cropWidth * cropHeight);
    out.push({ height: ih, width: iw, x: x0, y: y0, cropWidth, cropHeight, bits });
    if (bits.length === 0) continue;
    for (let r = 0; r < m; r++) padded.set(probs.subarray((i * m + r) * m, (i * m + r + 1) * m), (r + 1) * p + 1);
    const rows = _linear(p, h, y0 - ey1, cropHeight);
    const cols = _linear(p, w, x0 - ex1, cropWidth);
    for (let c = 0; c < cropWidth; c++) {
      const c0 = cols.index0[c], c1 = cols.index1[c], wl0 = cols.lambda0[c], wl1 = cols.lambda1[c];
      const at = c * cropHeight;
      for (let r = 0; r < cropHeight; r++) {
        const r0 = rows.index0[r] * p, r1 = rows.index1[r] * p, hl0 = rows.lambda0[r], hl1 = rows.lambda1[r];
        // torch sums the four float32 weight-value products in double, then rounds once to float32.
        const v = f(
          f(hl0 * wl0) * padded[r0 + c0] + f(hl0 * wl1) * padded[r0 + c1] + f(hl1 * wl0) * padded[r1 + c0] +
            f(hl1 * wl1) * padded[r1 + c1],
        );
        bits[at + r] = v > threshold ? 1 : 0;
      }
    }
  }
  return out;
}

/** Source indices and weights of `count` outputs from `first` on, resizing `input` to `output` (align_corners=False). */
function _linear(input: number, output: number, first: number, count: number) {
  const index0 = new Int32Array(count), index1 = new Int32Array(count);
  const lambda0 = new Float32Array(count), lambda1 = new Float32Array(count);
  const scale = f(input / output);
  for (let k = 0; k < count; k++) {
    const o = first + k;
    if (input === output) {
      index0[k] = index1[k] = o;
      lambda0[k] = 1;
      continue;
    }
    // The source position is computed in double from the float32 scale.
    const real = Math.max(scale * (o + 0.5) - 0.5, 0);
    const i0 = Math.trunc(real);
    index0[k] = i0;
    index1[k] = i0 < input - 1 ? i0 + 1 : i0;
    lambda1[k] = f(real - i0);
    lambda0[k] = f(1 - lambda1[k]);
  }
  return { index0, index1, lambda0, lambda1 };
}
