/**
 * Detections as rows of an LVIS/COCO results file: boxes taken back from
 * the network input to the original image's pixels as [x, y, width, height],
 * category indices turned into the dataset's ids, values rounded as the
 * results file keeps them.
 */
import type { Detections } from "./detector.ts";

/** One detection in the LVIS/COCO results format. */
export interface LvisResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

/**
 * The rows of one image's detections. `size` is the original and the network-input size of
 * the image (a `ResizePlan` without flip).
 *
 * @example
 * ```ts
 * const size = { width: 640, height: 480, outWidth: 171, outHeight: 128 };
 * resultRows(dets[0], { imageId: 42, size, categoryIds: [1, 3, 7] });
 * ```
 */
export function resultRows(
  dets: Detections,
  image: {
    imageId: number;
    size: { width: number; height: number; outWidth: number; outHeight: number };
    categoryIds: ArrayLike<number>;
  },
): LvisResult[] {
  const { size, categoryIds } = image;
  const sx = size.width / size.outWidth, sy = size.height / size.outHeight;
  const rows: LvisResult[] = [];
  for (let k = 0; k < dets.scores.length; k++) {
    const x1 = dets.boxes[4 * k] * sx, y1 = dets.boxes[4 * k + 1] * sy;
    const x2 = dets.boxes[4 * k + 2] * sx, y2 = dets.boxes[4 * k + 3] * sy;
    rows.push({
      image_id: image.imageId,
      category_id: categoryIds[dets.labels[k]],
      bbox: [round(x1), round(y1), round(x2 - x1), round(y2 - y1)],
      score: round(dets.scores[k], 6),
    });
  }
  return rows;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
