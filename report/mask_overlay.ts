// Instance masks as a transparent RGBA layer: filled lightly, outlined (pixels with a 4-neighbour outside).
import type { Rle } from "../eval/rle.ts";
import { rleToMask } from "../eval/rle_encode.ts";

/** Opacity of a mask's inside and of its outline, out of 255. */
const FILL_ALPHA = 80;
const LINE_ALPHA = 255;

export interface ColoredMask {
  mask: Rle;
  rgb: readonly [number, number, number];
}

/** An RGBA layer of `width * zoom` x `height * zoom` pixels with `masks` drawn in order, later ones on top. */
export function maskOverlay(masks: readonly ColoredMask[], width: number, height: number, zoom: number): Uint8Array {
  const zw = width * zoom;
  const out = new Uint8Array(zw * height * zoom * 4);
  for (const { mask, rgb } of masks) {
    if (mask.h !== height || mask.w !== width) {
      throw new Error(`A ${mask.w}x${mask.h} mask cannot be drawn on a ${width}x${height} image`);
    }
    const bits = rleToMask(mask);
    const at = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && bits[x * height + y] === 1;
    for (let x = 0; x < width; x++) {
      for (let y = 0; y < height; y++) {
        if (!at(x, y)) continue;
        const edge = !at(x - 1, y) || !at(x + 1, y) || !at(x, y - 1) || !at(x, y + 1);
        const alpha = edge ? LINE_ALPHA : FILL_ALPHA;
        for (let dy = 0; dy < zoom; dy++) {
          let p = ((y * zoom + dy) * zw + x * zoom) * 4;
          for (let dx = 0; dx < zoom; dx++, p += 4) {
            out[p] = rgb[0];
            out[p + 1] = rgb[1];
            out[p + 2] = rgb[2];
            out[p + 3] = alpha;
          }
        }
      }
    }
  }
  return out;
}
