/**
 * LVIS v1 ground truth, validated and laid out in typed arrays indexed by
 * sorted image and category position.
 */
import { InputError } from "../core/errors.ts";
import { FREQUENCIES } from "./params.ts";
import { jsonError, kindOf } from "./json_path.ts";

/**
 * Per (image, category) flags in `GroundTruth.imageCategoryFlags`: listed in `neg_category_ids`, listed in
 * `not_exhaustive_category_ids`, and positive (has ground truth with a valid area: the federated filter's set).
 */
export const NEGATIVE = 1, NOT_EXHAUSTIVE = 2, POSITIVE = 4;

/** Ground truth ready for evaluation. */
export interface GroundTruth {
  /** File name used in messages. */
  file: string;
  /** Image ids, ascending. */
  imageIds: Float64Array;
  /** Image id -> position in `imageIds`. */
  imageIndex: Map<number, number>;
  imageHeight: Float64Array;
  imageWidth: Float64Array;
  /** Category ids, ascending. */
  categoryIds: Float64Array;
  /** Category id -> position in `categoryIds`. */
  categoryIndex: Map<number, number>;
  /** 0 = r, 1 = c, 2 = f, per category position. */
  frequency: Uint8Array;
  /** `name` per category position ("" when absent). */
  categoryNames: string[];
  /** `NEGATIVE | NOT_EXHAUSTIVE | POSITIVE` bits at `image * numCategories + category`. */
  imageCategoryFlags: Uint8Array;
  /** Annotations in file order. */
  annotationCount: number;
  annotationId: Float64Array;
  /** Image position, or -1 when the image is not in `images`. */
  annotationImage: Int32Array;
  /** Category position, or -1 when the category is unknown. */
  annotationCategory: Int32Array;
  /** x, y, w, h per annotation. */
  annotationBbox: Float64Array;
  /** The `area` field (not recomputed, as in the reference). */
  annotationArea: Float64Array;
  /** 1 where the `ignore` field is truthy. */
  annotationIgnore: Uint8Array;
  /** Raw `segmentation` values (polygons), kept only when asked for. */
  annotationSegmentation: unknown[] | null;
}

function _number(file: string, path: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw jsonError(file, path, `expected a number, got ${kindOf(v)}`);
  return v;
}

function _array(file: string, path: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw jsonError(file, path, `expected an array, got ${kindOf(v)}`);
  return v;
}

function _object(file: string, path: string, v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw jsonError(file, path, `expected an object, got ${kindOf(v)}`);
  }
  return v as Record<string, unknown>;
}

/** Check the 4 numbers of a box, width and height not negative. */
export function readBox(file: string, path: string, v: unknown, out: Float64Array, at: number): void {
  const box = _array(file, path, v);
  if (box.length !== 4) throw jsonError(file, path, `expected 4 numbers, got ${box.length}`);
  for (let j = 0; j < 4; j++) out[at + j] = _number(file, `${path}[${j}]`, box[j]);
  if (out[at + 2] < 0 || out[at + 3] < 0) throw jsonError(file, path, `expected a non-negative width and height`);
}

/**
 * Validate parsed LVIS v1 ground truth.
 *
 * @param data the parsed JSON
 * @param file the file name, for messages
 * @param keepSegmentation keep polygon segmentations (for segm evaluation)
 * @returns typed ground truth
 * @example
 * ```ts
 * const gt = parseGroundTruth(JSON.parse(await Deno.readTextFile("gt.json")), "gt.json", false);
 * ```
 */
export function parseGroundTruth(data: unknown, file: string, keepSegmentation: boolean): GroundTruth {
  const root = _object(file, "$", data);
  const images = _array(file, "images", root.images);
  const categories = _array(file, "categories", root.categories);
  const annotations = _array(file, "annotations", root.annotations);

  const catOrder = categories.map((c, i) => {
    const o = _object(file, `categories[${i}]`, c);
    const id = _number(file, `categories[${i}].id`, o.id);
    const f = FREQUENCIES.indexOf(o.frequency as never);
    if (f < 0) {
      throw jsonError(file, `categories[${i}].frequency`, `expected "r", "c" or "f", got ${kindOf(o.frequency)}`);
    }
    return { id, f, i, name: typeof o.name === "string" ? o.name : "" };
  }).sort((a, b) => a.id - b.id);
  const categoryIds = new Float64Array(catOrder.map((c) => c.id));
  const frequency = new Uint8Array(catOrder.map((c) => c.f));
  const categoryNames = catOrder.map((c) => c.name);
  const categoryIndex = new Map<number, number>();
  catOrder.forEach((c, k) => {
    if (categoryIndex.has(c.id)) throw jsonError(file, `categories[${c.i}].id`, `duplicate category id ${c.id}`);
    categoryIndex.set(c.id, k);
  });

  const imgOrder = images.map((img, i) => {
    const o = _object(file, `images[${i}]`, img);
    const id = _number(file, `images[${i}].id`, o.id);
    return { id, o, i };
  }).sort((a, b) => a.id - b.id);
  const nImg = imgOrder.length, nCat = categoryIds.length;
  const imageIds = new Float64Array(nImg);
  const imageHeight = new Float64Array(nImg), imageWidth = new Float64Array(nImg);
  const imageIndex = new Map<number, number>();
  const imageCategoryFlags = new Uint8Array(nImg * nCat);
  imgOrder.forEach(({ id, o, i }, k) => {
    if (imageIndex.has(id)) throw jsonError(file, `images[${i}].id`, `duplicate image id ${id}`);
    imageIndex.set(id, k);
    imageIds[k] = id;
    if (keepSegmentation) {
      imageHeight[k] = _number(file, `images[${i}].height`, o.height);
      imageWidth[k] = _number(file, `images[${i}].width`, o.width);
    }
    for (
      const [key, bit] of [["neg_category_ids", NEGATIVE], ["not_exhaustive_category_ids", NOT_EXHAUSTIVE]] as const
    ) {
      const list = _array(file, `images[${i}].${key}`, o[key]);
      list.forEach((c, j) => {
        const cat = categoryIndex.get(_number(file, `images[${i}].${key}[${j}]`, c));
        if (cat !== undefined) imageCategoryFlags[k * nCat + cat] |= bit;
      });
    }
  });

  const n = annotations.length;
  const annotationId = new Float64Array(n), annotationArea = new Float64Array(n);
  const annotationImage = new Int32Array(n), annotationCategory = new Int32Array(n);
  const annotationBbox = new Float64Array(4 * n), annotationIgnore = new Uint8Array(n);
  const annotationSegmentation = keepSegmentation ? new Array<unknown>(n) : null;
  for (let i = 0; i < n; i++) {
    const p = `annotations[${i}]`;
    const o = _object(file, p, annotations[i]);
    annotationId[i] = _number(file, `${p}.id`, o.id);
    annotationImage[i] = imageIndex.get(_number(file, `${p}.image_id`, o.image_id)) ?? -1;
    annotationCategory[i] = categoryIndex.get(_number(file, `${p}.category_id`, o.category_id)) ?? -1;
    readBox(file, `${p}.bbox`, o.bbox, annotationBbox, 4 * i);
    annotationArea[i] = _number(file, `${p}.area`, o.area);
    annotationIgnore[i] = o.ignore ? 1 : 0;
    const img = annotationImage[i], cat = annotationCategory[i], ar = annotationArea[i];
    if (ar > 0 && ar < Infinity && img >= 0 && cat >= 0) imageCategoryFlags[img * nCat + cat] |= POSITIVE;
    if (annotationSegmentation) {
      if (o.segmentation === undefined) throw jsonError(file, `${p}.segmentation`, "missing");
      annotationSegmentation[i] = o.segmentation;
    }
  }
  return {
    file,
    imageIds,
    imageIndex,
    imageHeight,
    imageWidth,
    categoryIds,
    categoryIndex,
    frequency,
    categoryNames,
    imageCategoryFlags,
    annotationCount: n,
    annotationId,
    annotationImage,
    annotationCategory,
    annotationBbox,
    annotationArea,
    annotationIgnore,
    annotationSegmentation,
  };
}

/**
 * Read and validate an LVIS v1 ground-truth file.
 *
 * @param path the JSON file
 * @param keepSegmentation keep polygon segmentations (for segm evaluation)
 * @returns typed ground truth
 * @example
 * ```ts
 * const gt = await readGroundTruth("lvis_v1_val.json", false);
 * ```
 */
export async function readGroundTruth(path: string, keepSegmentation: boolean): Promise<GroundTruth> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new InputError(`Cannot read ground truth ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InputError(`Cannot parse ${JSON.stringify(path)} as JSON: ${(e as Error).message}`);
  }
  return parseGroundTruth(data, path, keepSegmentation);
}
