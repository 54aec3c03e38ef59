/**
 * Detections as LVIS/COCO results rows: boxes in original pixels as [x, y, width, height], dataset
 * category ids, values rounded as results files keep them, masks pasted and RLE-encoded.
 */
import { maskToSegmentation } from "../eval/rle_encode.ts";
import type { RleJson } from "../eval/results_file.ts";
import type { Detections } from "./detector.ts";
import { pasteMasks } from "./masks/paste_masks.ts";

/** One detection in the LVIS/COCO results format. */
export interface LvisResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
  /** The mask over the original image, pycocotools' compressed RLE (detections of a mask head). */
  segmentation?: RleJson;
}

export interface ResultImage {
  imageId: number;
  /** The original (`width`, `height`) and network-input (`outWidth`, `outHeight`) size: a `ResizePlan` without flip. */
  size: { width: number; height: number; outWidth: number; outHeight: number };
  categoryIds: ArrayLike<number>;
  /** Pasted mask probabilities above this are the mask (the mask head's `threshold`; default 0.5). */
  maskThreshold?: number;
}

const f = Math.fround;

/**
 * The rows of one image's detections. As torchvision's `transform.postprocess`, boxes are scaled back
 * in float32, then each mask (`dets.masks`) is pasted into its box at the original size.
 *
 * @example
 * ```ts
 * const size = { width: 640, height: 480, outWidth: 171, outHeight: 128 };
 * resultRows(dets[0], { imageId: 42, size, categoryIds: [1, 3, 7], maskThreshold: 0.5 });
 * ```
 */
export function resultRows(dets: Detections, image: ResultImage): LvisResult[] {
  const { size, categoryIds } = image;
  const n = dets.scores.length;
  const sx = size.width / size.outWidth, sy = size.height / size.outHeight;
  const segmentations = dets.masks ? _segmentations(dets, image) : null;
  const rows: LvisResult[] = [];
  for (let k = 0; k < n; k++) {
    const x1 = dets.boxes[4 * k] * sx, y1 = dets.boxes[4 * k + 1] * sy;
    const x2 = dets.boxes[4 * k + 2] * sx, y2 = dets.boxes[4 * k + 3] * sy;
    rows.push({
      image_id: image.imageId,
      category_id: categoryIds[dets.labels[k]],
      bbox: [round(x1), round(y1), round(x2 - x1), round(y2 - y1)],
      score: round(dets.scores[k], 6),
      ...(segmentations ? { segmentation: segmentations[k] } : {}),
    });
  }
  return rows;
}

function _segmentations(dets: Detections, image: ResultImage): RleJson[] {
  const { size } = image, n = dets.scores.length;
  // torchvision's resize_boxes: float32 ratios, float32 products.
  const rx = f(f(size.width) / f(size.outWidth)), ry = f(f(size.height) / f(size.outHeight));
  const boxes = new Float32Array(4 * n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < 4; j++) boxes[4 * k + j] = f(dets.boxes[4 * k + j] * (j % 2 ? ry : rx));
  }
  const pasted = pasteMasks(dets.masks!, boxes, {
    imageHeight: size.height,
    imageWidth: size.width,
    threshold: image.maskThreshold,
  });
  return pasted.map(maskToSegmentation);
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
