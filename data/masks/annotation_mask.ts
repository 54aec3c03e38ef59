// As pycocotools builds masks for the LVIS and COCO APIs: polygons rasterised and merged (a first polygon of
// exactly 4 numbers makes every entry a box [x, y, w, h]), or the stored RLE.
import { polygonToRle, type Rle, unionRle } from "../../eval/rle.ts";
import type { Dataset } from "../dataset.ts";

/**
 * The polygons of annotation `a`, each a flat [x0, y0, x1, y1, ...] in
 * image pixels, with pycocotools' box reading applied; empty when it has none.
 *
 * @example
 * ```ts
 * import { annotationPolygons } from "./annotation_mask.ts";
 * import { ingestDataset } from "../ingest_dataset.ts";
 * const { dataset } = await ingestDataset("/work/shared/fixtures/lvis/s01_segm/gt.json", { cache: false });
 * annotationPolygons(dataset, 0)[0].length; // an even number >= 6
 * ```
 */
export function annotationPolygons(ds: Dataset, a: number): Float32Array[] {
  _needMasks(ds);
  const { polyStart, polyEnd, coordStart, coords } = ds.annotations;
  const polys: Float32Array[] = [];
  for (let p = polyStart[a]; p < polyEnd[a]; p++) polys.push(coords.subarray(coordStart[p], coordStart[p + 1]));
  if (polys.length === 0 || polys[0].length !== 4) return polys;
  return polys.map(([x, y, w, h]) => Float32Array.of(x, y, x, y + h, x + w, y + h, x + w, y));
}

/**
 * The mask of annotation `a` over its whole image (empty when it has none).
 *
 * @example
 * ```ts
 * import { annotationMask } from "./annotation_mask.ts";
 * import { rleArea } from "../../eval/rle.ts";
 * import { ingestDataset } from "../ingest_dataset.ts";
 * const { dataset } = await ingestDataset("/work/shared/fixtures/lvis/s01_segm/gt.json", { cache: false });
 * rleArea(annotationMask(dataset, 0)); // close to the annotation's area
 * ```
 */
export function annotationMask(ds: Dataset, a: number): Rle {
  const im = ds.annotations.image[a];
  const h = ds.images.height[im], w = ds.images.width[im];
  const { rleStart, rleEnd, rleCounts } = ds.annotations;
  if (rleEnd[a] > rleStart[a]) {
    _needMasks(ds);
    return { h, w, counts: rleCounts.slice(rleStart[a], rleEnd[a]) };
  }
  const polys = annotationPolygons(ds, a);
  if (polys.length === 0) return emptyMask(h, w);
  return unionRle(polys.map((p) => polygonToRle(p, h, w)));
}

export function emptyMask(h: number, w: number): Rle {
  return { h, w, counts: Uint32Array.of(h * w) };
}

function _needMasks(ds: Dataset): void {
  if (!ds.hasMasks) {
    throw new Error(`The dataset "${ds.source}" was loaded without masks; load it with { masks: true }`);
  }
}
