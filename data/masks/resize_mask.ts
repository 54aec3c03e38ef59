// Resized as torchvision 0.14 resizes training masks (`GeneralizedRCNNTransform`: nearest, the scale recomputed
// from the sizes in float32), after an optional flip (the references flip before the model resizes).
import type { Rle } from "../../eval/rle.ts";
import { encodeMask, rleToMask } from "../../eval/rle_encode.ts";

/**
 * Source index of output `o` (ATen's `nearest_idx`, including its exact
 * cases for equal and doubled sizes).
 *
 * @example
 * ```ts
 * import { nearestIndex } from "./resize_mask.ts";
 * nearestIndex(5, 10, 3); // 1
 * ```
 */
export function nearestIndex(o: number, input: number, output: number): number {
  if (output === input) return o;
  if (output === 2 * input) return o >> 1;
  const scale = Math.fround(input / output);
  return Math.min(Math.floor(Math.fround(o * scale)), input - 1);
}

/**
 * `mask` flipped left-right if asked, then resized to `outHeight` x `outWidth`.
 *
 * @example
 * ```ts
 * import { resizeMaskNearest } from "./resize_mask.ts";
 * const m = { h: 2, w: 2, counts: Uint32Array.of(2, 2) }; // right column set
 * resizeMaskNearest(m, 4, 4, { flip: true }).counts; // Uint32Array [0, 8, 8]
 * ```
 */
export function resizeMaskNearest(
  mask: Rle,
  outHeight: number,
  outWidth: number,
  options: { flip?: boolean } = {},
): Rle {
  const src = rleToMask(mask);
  const { h, w } = mask;
  const rows = Int32Array.from({ length: outHeight }, (_, y) => nearestIndex(y, h, outHeight));
  const bits = new Uint8Array(outHeight * outWidth);
  for (let x = 0; x < outWidth; x++) {
    const sx = nearestIndex(x, w, outWidth);
    const col = (options.flip ? w - 1 - sx : sx) * h;
    const at = x * outHeight;
    for (let y = 0; y < outHeight; y++) bits[at + y] = src[col + rows[y]];
  }
  return encodeMask({
    height: outHeight,
    width: outWidth,
    x: 0,
    y: 0,
    cropWidth: outWidth,
    cropHeight: outHeight,
    bits,
  });
}
