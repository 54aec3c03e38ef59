// Decode with sharp (native, off the JS thread) and normalise into planar float32 CHW, (value - mean) / std.
import { dirname } from "node:path";
import sharp from "sharp";
import { InputError } from "../../core/errors.ts";
import type { ResizePlan } from "./resize_plan.ts";

export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** ImageNet's statistics, what detection backbones are usually trained with. */
export const IMAGENET_NORMALIZATION: Normalization = { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] };

export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/**
 * Decode `path` to RGB, resized and flipped as `plan` says; a missing or corrupt file is an `InputError`.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode_image.ts";
 * // const { width, height, rgb } = await decodeImage("train/000000000001.png");
 * ```
 */
export async function decodeImage(path: string, plan?: ResizePlan): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    // Read here, not by libvips: its error text is process-wide, so with decoders on several threads a missing
    // file could get another thread's reason ("unsupported image format").
    bytes = await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? _notFound(path) : (e as Error).message.split("\n")[0];
    throw new InputError(`Cannot read image ${JSON.stringify(path)}: ${why}`);
  }
  try {
    let img = sharp(bytes, { failOn: "error" }).removeAlpha().toColourspace("srgb");
    if (plan) {
      const meta = await img.metadata();
      if (meta.width !== plan.width || meta.height !== plan.height) {
        // Boxes are scaled from the annotated size, so a different real size would misplace them all.
        throw new Error(
          `the file is ${meta.width}x${meta.height} but the annotations say ${plan.width}x${plan.height}`,
        );
      }
      // Bilinear, as detectron2 resizes training images.
      img = img.resize(plan.outWidth, plan.outHeight, { fit: "fill", kernel: "linear" });
      if (plan.flip) img = img.flop();
    }
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw new InputError(`Cannot decode image ${JSON.stringify(path)}: ${(e as Error).message.split("\n")[0]}`);
  }
}

function _notFound(path: string): string {
  const folder = dirname(path);
  try {
    Deno.statSync(folder);
    return "no such file";
  } catch {
    return `no such file (its folder ${JSON.stringify(folder)} does not exist)`;
  }
}

/**
 * Interleaved RGB to normalised planar float32 (CHW).
 *
 * @example
 * ```ts
 * import { normalizeToChw } from "./decode_image.ts";
 * normalizeToChw({ width: 1, height: 1, rgb: new Uint8Array([1, 2, 3]) }, { mean: [1, 1, 1], std: [1, 1, 2] });
 * // Float32Array [0, 1, 1]
 * ```
 */
export function normalizeToChw(img: RgbImage, norm: Normalization, out?: Float32Array): Float32Array {
  const n = img.width * img.height;
  const chw = out ?? new Float32Array(3 * n);
  const { rgb } = img;
  for (let c = 0; c < 3; c++) {
    const m = norm.mean[c];
    const s = 1 / norm.std[c];
    const plane = c * n;
    for (let i = 0; i < n; i++) chw[plane + i] = (rgb[3 * i + c] - m) * s;
  }
  return chw;
}
