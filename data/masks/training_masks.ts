// Polygons moved by the resize plan as the boxes are, then rasterised at the resized size; RLE masks flipped
// and resized as torchvision resizes masks.
import { polygonToRle, type Rle, unionRle } from "../../eval/rle.ts";
import type { Dataset } from "../dataset.ts";
import { type ResizePlan, transformPolygon } from "../image/resize_plan.ts";
import { annotationMask, annotationPolygons, emptyMask } from "./annotation_mask.ts";
import { resizeMaskNearest } from "./resize_mask.ts";

/** Instance masks of one image at network-input size (the resized image, before batch padding). */
export interface InstanceMasks {
  height: number;
  width: number;
  rles: Rle[];
  /**
   * 1 for a box whose annotation has no mask at all (its entry in `rles` is empty, not a
   * true empty mask): the mask loss leaves such boxes out. Absent when every box has one.
   */
  missing?: Uint8Array;
}

/**
 * The masks of `annotations` (indices into `ds.annotations`) for an image
 * resized and flipped by `plan`. An annotation without a mask gets an empty one, flagged in `missing`.
 *
 * @example
 * ```ts
 * import { trainingMasks } from "./training_masks.ts";
 * import { planResize } from "../image/resize_plan.ts";
 * import { ingestDataset } from "../ingest_dataset.ts";
 * const { dataset } = await ingestDataset("/work/shared/fixtures/lvis/s01_segm/gt.json", { cache: false });
 * const im = dataset.annotations.image[0];
 * const plan = planResize({ width: dataset.images.width[im], height: dataset.images.height[im], shortSide: 64, maxSize: 1333, flip: true });
 * trainingMasks(dataset, [0], plan).rles[0].h; // plan.outHeight
 * ```
 */
export function trainingMasks(ds: Dataset, annotations: ArrayLike<number>, plan: ResizePlan): InstanceMasks {
  const { outHeight: h, outWidth: w } = plan;
  const rles: Rle[] = [];
  const missing = new Uint8Array(annotations.length);
  for (let i = 0; i < annotations.length; i++) {
    const a = annotations[i];
    const { rleStart, rleEnd } = ds.annotations;
    if (rleEnd[a] > rleStart[a]) {
      rles.push(resizeMaskNearest(annotationMask(ds, a), h, w, { flip: plan.flip }));
      continue;
    }
    const polys = annotationPolygons(ds, a);
    missing[i] = polys.length ? 0 : 1;
    rles.push(
      polys.length ? unionRle(polys.map((p) => polygonToRle(transformPolygon(plan, p), h, w))) : emptyMask(h, w),
    );
  }
  return { height: h, width: w, rles, ...(missing.includes(1) ? { missing } : {}) };
}
