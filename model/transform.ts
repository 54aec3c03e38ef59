/**
 * torchvision's GeneralizedRCNNTransform for inference, in float32 as torch computes it: normalise,
 * bilinear resize (align_corners=False, recompute_scale_factor=True), zero-pad to `sizeDivisor`.
 */
import { InputError } from "../core/errors.ts";
import type { ImageBatch } from "./detector.ts";

const f = Math.fround;

/** torchvision's defaults: ImageNet statistics of pixels in [0, 1]. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** One image: RGB planes (CHW) of values in [0, 1]. */
export interface RgbPlanes {
  data: Float32Array;
  height: number;
  width: number;
}

export interface TransformOptions {
  minSize: number;
  maxSize: number;
  sizeDivisor: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * Resized size: floor(side * scale), scale = min(minSize / shorter, maxSize / longer) in float32, each
 * quotient a float32 reciprocal times the size (how torch divides a number by a tensor).
 */
export function resizedSize(height: number, width: number, minSize: number, maxSize: number): [number, number] {
  const scale = Math.min(f(f(1 / Math.min(height, width)) * minSize), f(f(1 / Math.max(height, width)) * maxSize));
  return [Math.floor(height * scale), Math.floor(width * scale)];
}

/** Source indices and weights along one axis of an align_corners=False bilinear resize, in float32. */
function axisTaps(
  inSize: number,
  outSize: number,
): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize), w1 = new Float32Array(outSize);
  const scale = f(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      [i0[o], i1[o], w0[o], w1[o]] = [o, o, 1, 0];
      continue;
    }
    const src = Math.max(f(f(scale * (o + 0.5)) - 0.5), 0);
    i0[o] = Math.floor(src);
    i1[o] = i0[o] + (i0[o] < inSize - 1 ? 1 : 0);
    w1[o] = Math.min(Math.max(f(src - i0[o]), 0), 1);
    w0[o] = f(1 - w1[o]);
  }
  return { i0, i1, w0, w1 };
}

/** Bilinear resize of planes as torch's `interpolate(mode="bilinear", align_corners=False)` with an output size. */
export function resizeBilinear(
  planes: Float32Array,
  channels: number,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
): Float32Array {
  const ty = axisTaps(height, outHeight), tx = axisTaps(width, outWidth);
  const out = new Float32Array(channels * outHeight * outWidth);
  for (let c = 0; c < channels; c++) {
    const src = planes.subarray(c * height * width, (c + 1) * height * width);
    for (let y = 0; y < outHeight; y++) {
      const r0 = ty.i0[y] * width, r1 = ty.i1[y] * width, a = ty.w0[y], b = ty.w1[y];
      const row = (c * outHeight + y) * outWidth;
      for (let x = 0; x < outWidth; x++) {
        const p = tx.i0[x], q = tx.i1[x], u = tx.w0[x], v = tx.w1[x];
        const top = f(f(u * src[r0 + p]) + f(v * src[r0 + q]));
        const bottom = f(f(u * src[r1 + p]) + f(v * src[r1 + q]));
        out[row + x] = f(f(a * top) + f(b * bottom));
      }
    }
  }
  return out;
}

/** Normalise, resize and pad images into one batch as torchvision at test time; `sizes` are the resized sizes. */
export function transformImages(images: readonly RgbPlanes[], o: TransformOptions): ImageBatch {
  if (images.length === 0) throw new InputError("transformImages() got no images");
  const mean = (o.mean ?? IMAGENET_MEAN).map(f), std = (o.std ?? IMAGENET_STD).map(f);
  const resized = images.map((img) => {
    if (img.data.length !== 3 * img.height * img.width || img.height < 1 || img.width < 1) {
      throw new InputError(
        `An image of ${img.height}x${img.width} needs ${3 * img.height * img.width} values, got ${img.data.length}`,
      );
    }
    const norm = new Float32Array(img.data.length), plane = img.height * img.width;
    for (let i = 0; i < norm.length; i++) {
      const c = Math.floor(i / plane);
      norm[i] = f(f(img.data[i] - mean[c]) / std[c]);
    }
    const [h, w] = resizedSize(img.height, img.width, o.minSize, o.maxSize);
    return { data: resizeBilinear(norm, 3, img.height, img.width, h, w), height: h, width: w };
  });
  const d = o.sizeDivisor;
  const H = Math.ceil(Math.max(...resized.map((r) => r.height)) / d) * d;
  const W = Math.ceil(Math.max(...resized.map((r) => r.width)) / d) * d;
  const out = new Float32Array(images.length * 3 * H * W);
  resized.forEach((r, b) => {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < r.height; y++) {
        out.set(
          r.data.subarray((c * r.height + y) * r.width, (c * r.height + y + 1) * r.width),
          ((b * 3 + c) * H + y) * W,
        );
      }
    }
  });
  return {
    images: out,
    batch: images.length,
    height: H,
    width: W,
    sizes: resized.map((r) => ({ height: r.height, width: r.width })),
  };
}

/** Boxes [x1, y1, x2, y2] back in original pixels, in place, as torchvision's `resize_boxes` (float32 ratios). */
export function boxesToOriginal(
  boxes: Float32Array,
  resized: { height: number; width: number },
  original: { height: number; width: number },
): Float32Array {
  const rh = f(f(original.height) / f(resized.height)), rw = f(f(original.width) / f(resized.width));
  for (let i = 0; i < boxes.length; i += 4) {
    boxes[i] = f(boxes[i] * rw);
    boxes[i + 1] = f(boxes[i + 1] * rh);
    boxes[i + 2] = f(boxes[i + 2] * rw);
    boxes[i + 3] = f(boxes[i + 3] * rh);
  }
  return boxes;
}
