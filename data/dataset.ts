// Detection datasets in typed columns, so training and evaluation index numbers instead of walking JSON objects.

/** LVIS's groups: rare (1-10 training images), common (11-100), frequent (> 100). */
export type Frequency = "r" | "c" | "f";

export const FREQUENCIES: readonly Frequency[] = ["r", "c", "f"];

export interface DatasetImages {
  count: number;
  ids: Float64Array;
  width: Int32Array;
  height: Int32Array;
  /** Path relative to the image root: `file_name`, or the last two parts of `coco_url` (LVIS v1). */
  fileNames: string[];
  /** Annotations of image i are `annStart[i] .. annStart[i + 1]` (length count + 1). */
  annStart: Uint32Array;
  /** Category indices verified absent (`neg_category_ids`): `negCategories[negStart[i] .. negStart[i + 1]]`. */
  negStart: Uint32Array;
  negCategories: Uint32Array;
  /** Category indices not exhaustively labelled (`not_exhaustive_category_ids`), same layout. */
  notExhaustiveStart: Uint32Array;
  notExhaustiveCategories: Uint32Array;
}

export interface DatasetAnnotations {
  count: number;
  ids: Float64Array;
  image: Uint32Array;
  category: Uint32Array;
  bbox: Float64Array;
  area: Float64Array;
  iscrowd: Uint8Array;
  /** Polygons of annotation a are indices `polyStart[a] .. polyEnd[a]` (polygons stay in file order). */
  polyStart: Uint32Array;
  polyEnd: Uint32Array;
  /** Flat [x0, y0, x1, y1, ...] of polygon p is `coords[coordStart[p] .. coordStart[p + 1]]`. */
  coordStart: Uint32Array;
  coords: Float32Array;
  /**
   * A mask stored as RLE (COCO crowd regions, or files that store masks so): run lengths
   * `rleCounts[rleStart[a] .. rleEnd[a]]` over annotation a's image, column-major, background first.
   * Empty for annotations with polygons or without a mask.
   */
  rleStart: Uint32Array;
  rleEnd: Uint32Array;
  rleCounts: Uint32Array;
}

export interface DatasetCategories {
  count: number;
  ids: Int32Array;
  names: string[];
  /** 0 = r, 1 = c, 2 = f (see {@link FREQUENCIES}); from the file, else from `imageCount`. */
  frequency: Uint8Array;
  /** Training images with the category: from the file, else counted. */
  imageCount: Uint32Array;
  instanceCount: Uint32Array;
}

export interface Dataset {
  format: "lvis" | "coco";
  source: string;
  imageRoot: string;
  contentHash: string;
  /** False when loaded without mask geometry (then `coords` and `rleCounts` are empty). */
  hasMasks: boolean;
  /**
   * LVIS fields the file lacks (a COCO file lacks both), and so what was assumed: `frequency`, each
   * category's group from its image count; `exhaustive`, every image labelled for every category.
   */
  assumed: { frequency: boolean; exhaustive: boolean };
  images: DatasetImages;
  annotations: DatasetAnnotations;
  categories: DatasetCategories;
}

/** The most training images of a rare category, and of a common one (LVIS's thresholds). */
export const RARE_MAX_IMAGES = 10, COMMON_MAX_IMAGES = 100;

/**
 * The frequency group of a category shown in `imageCount` training images.
 *
 * @example
 * ```ts
 * import { frequencyOfImageCount } from "./dataset.ts";
 * frequencyOfImageCount(11); // "c"
 * ```
 */
export function frequencyOfImageCount(imageCount: number): Frequency {
  return imageCount <= RARE_MAX_IMAGES ? "r" : imageCount <= COMMON_MAX_IMAGES ? "c" : "f";
}
