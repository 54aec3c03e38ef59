// Ground truth with a valid area, and kept results with a valid area that pass LVIS's federated filter
// (the image's positive or negative set), grouped for the per-category loop.
import { type GroundTruth, NEGATIVE, POSITIVE } from "./ground_truth.ts";
import { resultArea } from "./geometry.ts";
import type { Results } from "./results_file.ts";
import { sharedInt32 } from "./shared_arrays.ts";

export interface Grouped {
  /** Positions of category k at `order[catStart[k] .. catStart[k + 1])`. */
  catStart: Int32Array;
  order: Int32Array;
}

export interface UsedItems {
  gt: Grouped;
  dt: Grouped;
}

/** Stable two-pass counting sort by (category, image): the image pass first keeps image order inside a category. */
export function groupByCategoryImage(
  items: Int32Array,
  category: ArrayLike<number>,
  image: ArrayLike<number>,
  numCategories: number,
  numImages: number,
): Grouped {
  const n = items.length;
  const byImage = new Int32Array(n);
  const imgFill = new Int32Array(numImages + 1);
  for (let j = 0; j < n; j++) imgFill[image[items[j]] + 1]++;
  for (let i = 0; i < numImages; i++) imgFill[i + 1] += imgFill[i];
  for (let j = 0; j < n; j++) byImage[imgFill[image[items[j]]]++] = items[j];
  const catStart = sharedInt32(numCategories + 1);
  for (let j = 0; j < n; j++) catStart[category[items[j]] + 1]++;
  for (let k = 0; k < numCategories; k++) catStart[k + 1] += catStart[k];
  const fill = catStart.slice(0, numCategories);
  // The image pass's buffer becomes the output: items is free to be overwritten.
  const order = items;
  for (let j = 0; j < n; j++) {
    const i = byImage[j];
    order[fill[category[i]]++] = i;
  }
  return { catStart, order };
}

/** `keep`: 1 for results that survive the limits (null: all); `area`: result areas, or null for box areas. */
export function usedItems(
  gt: GroundTruth,
  dt: Results,
  keep: Uint8Array | null,
  area: Float64Array | null,
  evaluated: Uint8Array,
): UsedItems {
  const K = gt.categoryIds.length, I = gt.imageIds.length;
  const flags = gt.imageCategoryFlags;
  let ng = 0;
  for (let a = 0; a < gt.annotationCount; a++) if (_gtUsed(gt, a, evaluated)) ng++;
  const gtItems = sharedInt32(ng);
  ng = 0;
  for (let a = 0; a < gt.annotationCount; a++) if (_gtUsed(gt, a, evaluated)) gtItems[ng++] = a;
  // Results: kept, valid area, and in the image's positive or negative set.
  const dtCat = dt.category, dtImage = dt.image;
  let nd = 0;
  for (let i = 0; i < dt.count; i++) {
    const cat = dtCat[i], ar = resultArea(dt, area, i);
    if (
      (!keep || keep[i]) && cat >= 0 && evaluated[cat] && ar > 0 && ar < Infinity &&
      flags[dtImage[i] * K + cat] & _FEDERATED
    ) {
      nd++;
    }
  }
  const dtItems = sharedInt32(nd);
  nd = 0;
  for (let i = 0; i < dt.count; i++) {
    const cat = dtCat[i], ar = resultArea(dt, area, i);
    if (
      (!keep || keep[i]) && cat >= 0 && evaluated[cat] && ar > 0 && ar < Infinity &&
      flags[dtImage[i] * K + cat] & _FEDERATED
    ) {
      dtItems[nd++] = i;
    }
  }
  return {
    gt: groupByCategoryImage(gtItems, gt.annotationCategory, gt.annotationImage, K, I),
    dt: groupByCategoryImage(dtItems, dtCat, dtImage, K, I),
  };
}

const _FEDERATED = POSITIVE | NEGATIVE;

function _gtUsed(gt: GroundTruth, a: number, evaluated: Uint8Array): boolean {
  const ar = gt.annotationArea[a], cat = gt.annotationCategory[a];
  return ar > 0 && ar < Infinity && gt.annotationImage[a] >= 0 && cat >= 0 && evaluated[cat] === 1;
}
