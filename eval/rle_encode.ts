// Binary masks to COCO RLE in pycocotools' format: column-major runs, background first, and the compressed
// `counts` string that `maskUtils.encode` writes.
import type { RleJson } from "./results_file.ts";
import type { Rle } from "./rle.ts";

/** A mask that is zero outside one rectangle (e.g. a detection's mask pasted into its box). */
export interface CroppedMask {
  height: number;
  width: number;
  x: number;
  y: number;
  cropWidth: number;
  cropHeight: number;
  /** `cropHeight * cropWidth` values in column-major order; nonzero is foreground. */
  bits: Uint8Array;
}

/**
 * Run lengths of `mask` over its whole image (pycocotools `rleEncode`).
 *
 * @example
 * ```ts
 * import { encodeMask } from "./rle_encode.ts";
 * const mask = { height: 2, width: 2, x: 1, y: 0, cropWidth: 1, cropHeight: 2, bits: Uint8Array.of(1, 1) };
 * encodeMask(mask).counts; // Uint32Array [2, 2]
 * ```
 */
export function encodeMask(mask: CroppedMask): Rle {
  const { height: h, width: w, x, y, cropWidth: cw, cropHeight: ch, bits } = mask;
  if (x < 0 || y < 0 || cw < 0 || ch < 0 || x + cw > w || y + ch > h || bits.length !== cw * ch) {
    throw new Error(
      `Invalid cropped mask: ${cw}x${ch} at (${x}, ${y}) in a ${w}x${h} image with ${bits.length} values`,
    );
  }
  let counts = new Uint32Array(16);
  let m = 0, value = 0, run = 0;
  const flush = () => {
    if (m === counts.length) {
      const grown = new Uint32Array(2 * m);
      grown.set(counts);
      counts = grown;
    }
    counts[m++] = run;
  };
  // Background before the rectangle's first column and above its first row.
  run = x * h + y;
  const below = h - y - ch;
  for (let c = 0; c < cw; c++) {
    const col = c * ch;
    for (let r = 0; r < ch; r++) {
      const v = bits[col + r] === 0 ? 0 : 1;
      if (v !== value) {
        flush();
        value = v;
        run = 0;
      }
      run++;
    }
    // The rows below this column and above the next one are background.
    const gap = c + 1 < cw ? below + y : below + (w - x - cw) * h;
    if (gap > 0) {
      if (value !== 0) {
        flush();
        value = 0;
        run = 0;
      }
      run += gap;
    }
  }
  if (cw === 0) run = h * w;
  flush();
  return { h, w, counts: counts.slice(0, m) };
}

/**
 * pycocotools' compressed counts string (`rleToString`): from the third run
 * on, each count as the difference to the count two before, written in
 * 5-bit groups with a continuation bit, as characters 48-111.
 *
 * @example
 * ```ts
 * import { rleToString } from "./rle_encode.ts";
 * rleToString({ h: 2, w: 2, counts: Uint32Array.of(0, 2, 2) }); // "022"
 * ```
 */
export function rleToString(rle: Rle): string {
  const codes: number[] = [];
  const c = rle.counts;
  for (let i = 0; i < c.length; i++) {
    let x = i > 2 ? c[i] - c[i - 2] : c[i];
    for (let more = true; more;) {
      // Low 5 bits and an arithmetic shift, on values past the int32 range too.
      let d = ((x % 32) + 32) % 32;
      x = Math.floor(x / 32);
      more = (d & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) d |= 0x20;
      codes.push(d + 48);
    }
  }
  let s = "";
  for (let i = 0; i < codes.length; i += 8192) s += String.fromCharCode(...codes.slice(i, i + 8192));
  return s;
}

/**
 * The LVIS/COCO results `segmentation` of one mask: `{ size: [h, w], counts }`
 * exactly as pycocotools' `encode` of the same Fortran-order mask gives it.
 *
 * @example
 * ```ts
 * import { maskToSegmentation } from "./rle_encode.ts";
 * const bits = Uint8Array.of(0, 1, 1, 0);
 * maskToSegmentation({ height: 2, width: 2, x: 0, y: 0, cropWidth: 2, cropHeight: 2, bits });
 * // { size: [2, 2], counts: "121" }
 * ```
 */
export function maskToSegmentation(mask: CroppedMask): RleJson {
  return { size: [mask.height, mask.width], counts: rleToString(encodeMask(mask)) };
}

/**
 * The pixels of `rle`, column-major (`rleDecode`), 0 or 1.
 *
 * @example
 * ```ts
 * import { rleToMask } from "./rle_encode.ts";
 * rleToMask({ h: 2, w: 2, counts: Uint32Array.of(1, 2, 1) }); // Uint8Array [0, 1, 1, 0]
 * ```
 */
export function rleToMask(rle: Rle): Uint8Array {
  const out = new Uint8Array(rle.h * rle.w);
  let p = 0;
  for (let j = 0; j < rle.counts.length; j++) {
    const end = p + rle.counts[j];
    if (end > out.length) throw new Error(`RLE counts sum past ${rle.h}x${rle.w} = ${out.length} pixels`);
    if (j % 2 === 1) out.fill(1, p, end);
    p = end;
  }
  return out;
}
