import { InputError } from "../core/errors.ts";
import { FREQUENCIES } from "./params.ts";
import { jsonError, kindOf } from "./json_path.ts";
import { BAD, keyOf, numberAt, numberEnd, skipString, skipValue, skipWs } from "./json_scan.ts";
import { readFile } from "node:fs/promises";
import { sharedFloat64, sharedInt32, sharedUint8 } from "./shared_arrays.ts";
import { basename } from "node:path";

/**
 * Per (image, category) flags in `GroundTruth.imageCategoryFlags`: listed in `neg_category_ids`, listed in
 * `not_exhaustive_category_ids`, and positive (has ground truth with a valid area: the federated filter's set).
 */
export const NEGATIVE = 1, NOT_EXHAUSTIVE = 2, POSITIVE = 4;

/** The arrays box matching reads lie on shared memory, for worker threads. */
export interface GroundTruth {
  file: string;
  /** What was assumed about the file (COCO instead of LVIS), for the user. */
  notes: string[];
  imageIds: Float64Array;
  imageIndex: Map<number, number>;
  imageHeight: Float64Array;
  imageWidth: Float64Array;
  categoryIds: Float64Array;
  categoryIndex: Map<number, number>;
  frequency: Uint8Array;
  categoryNames: string[];
  /** `NEGATIVE | NOT_EXHAUSTIVE | POSITIVE` bits at `image * numCategories + category`. */
  imageCategoryFlags: Uint8Array;
  annotationCount: number;
  annotationId: Float64Array;
  annotationImage: Int32Array;
  annotationCategory: Int32Array;
  annotationBbox: Float64Array;
  /** The `area` field (not recomputed, as in the reference). */
  annotationArea: Float64Array;
  annotationIgnore: Uint8Array;
  annotationSegmentation: unknown[] | null;
}

function _number(file: string, path: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw jsonError(file, path, `expected a number, got ${kindOf(v)}`);
  return v;
}

/** Builds the path only when it fails (the annotation loop is hot). */
function _field(file: string, list: string, i: number, field: string, v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : _number(file, `${list}[${i}].${field}`, v);
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

export function readBox(file: string, path: string, v: unknown, out: Float64Array, at: number): void {
  const box = _array(file, path, v);
  if (box.length !== 4) throw jsonError(file, path, `expected 4 numbers, got ${box.length}`);
  for (let j = 0; j < 4; j++) out[at + j] = _number(file, `${path}[${j}]`, box[j]);
  if (out[at + 2] < 0 || out[at + 3] < 0) throw jsonError(file, path, `expected a non-negative width and height`);
}

/** LVIS's frequency group of a category seen in `images` training images: r 1-10, c 11-100, f > 100. */
export function frequencyOf(images: number): number {
  return images <= 10 ? 0 : images <= 100 ? 1 : 2;
}

const _LISTS = [["neg_category_ids", NEGATIVE], ["not_exhaustive_category_ids", NOT_EXHAUSTIVE]] as const;

/**
 * Validate parsed ground truth: LVIS v1, or plain COCO. A COCO file (no category has `frequency`, no image
 * has `neg_category_ids` or `not_exhaustive_category_ids`) gets LVIS's frequency groups from each
 * category's `image_count` field, or else from the images that the file annotates with it, and exhaustive
 * labels on every image (COCO's semantics); `notes` says which was assumed.
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
  const ann = _newAnnotations(annotations.length, keepSegmentation);
  for (let i = 0; i < annotations.length; i++) _readAnnotation(file, annotations[i], i, ann);
  ann.count = annotations.length;
  return _build(file, images, categories, ann);
}

function _build(file: string, images: unknown[], categories: unknown[], ann: _Annotations): GroundTruth {
  const keepSegmentation = ann.segmentation !== null;
  const notes: string[] = [];
  const name = JSON.stringify(basename(file));

  const catObjects = categories.map((c, i) => _object(file, `categories[${i}]`, c));
  const deriveFrequency = catObjects.length > 0 && catObjects.every((o) => o.frequency === undefined);
  const catOrder = catObjects.map((o, i) => {
    const id = _number(file, `categories[${i}].id`, o.id);
    const f = deriveFrequency ? -1 : FREQUENCIES.indexOf(o.frequency as never);
    if (f < 0 && !deriveFrequency) {
      throw jsonError(file, `categories[${i}].frequency`, `expected "r", "c" or "f", got ${kindOf(o.frequency)}`);
    }
    const count = o.image_count === undefined ? -1 : _number(file, `categories[${i}].image_count`, o.image_count);
    return { id, f, i, count, name: typeof o.name === "string" ? o.name : "" };
  }).sort((a, b) => a.id - b.id);
  const categoryIds = new Float64Array(catOrder.map((c) => c.id));
  const frequency = new Uint8Array(catOrder.map((c) => Math.max(0, c.f)));
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
  const imageCategoryFlags = sharedUint8(nImg * nCat);
  const exhaustive = imgOrder.length > 0 && imgOrder.every(({ o }) => _LISTS.every(([key]) => o[key] === undefined));
  if (exhaustive) {
    // COCO: every image is labelled for every category, so each absent category is a verified negative.
    imageCategoryFlags.fill(NEGATIVE);
    notes.push(
      `${name} has no neg_category_ids or not_exhaustive_category_ids: every image is taken as exhaustively ` +
        `labelled for every category (COCO semantics)`,
    );
  }
  imgOrder.forEach(({ id, o, i }, k) => {
    if (imageIndex.has(id)) throw jsonError(file, `images[${i}].id`, `duplicate image id ${id}`);
    imageIndex.set(id, k);
    imageIds[k] = id;
    if (keepSegmentation) {
      imageHeight[k] = _number(file, `images[${i}].height`, o.height);
      imageWidth[k] = _number(file, `images[${i}].width`, o.width);
    }
    if (exhaustive) return;
    for (const [key, bit] of _LISTS) {
      const list = _array(file, `images[${i}].${key}`, o[key]);
      for (let j = 0; j < list.length; j++) {
        const cat = categoryIndex.get(_number(file, `images[${i}].${key}[${j}]`, list[j]));
        if (cat !== undefined) imageCategoryFlags[k * nCat + cat] |= bit;
      }
    }
  });

  const n = ann.count;
  const annotationImage = sharedInt32(n), annotationCategory = sharedInt32(n);
  for (let i = 0; i < n; i++) {
    const img = annotationImage[i] = imageIndex.get(ann.imageId[i]) ?? -1;
    const cat = annotationCategory[i] = categoryIndex.get(ann.categoryId[i]) ?? -1;
    const ar = ann.area[i];
    if (ar > 0 && ar < Infinity && img >= 0 && cat >= 0) imageCategoryFlags[img * nCat + cat] |= POSITIVE;
  }
  if (deriveFrequency) _deriveFrequency(catOrder, annotationImage, annotationCategory, frequency, name, notes);
  return {
    file,
    notes,
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
    annotationId: ann.id.subarray(0, n),
    annotationImage,
    annotationCategory,
    annotationBbox: ann.bbox.subarray(0, 4 * n),
    annotationArea: ann.area.subarray(0, n),
    annotationIgnore: ann.ignore.subarray(0, n),
    annotationSegmentation: ann.segmentation,
  };
}

/** Ids not yet resolved: a file may list annotations before its images and categories. */
interface _Annotations {
  count: number;
  id: Float64Array;
  imageId: Float64Array;
  categoryId: Float64Array;
  bbox: Float64Array;
  area: Float64Array;
  ignore: Uint8Array;
  segmentation: unknown[] | null;
}

function _newAnnotations(capacity: number, keepSegmentation: boolean): _Annotations {
  return {
    count: 0,
    id: sharedFloat64(capacity),
    imageId: new Float64Array(capacity),
    categoryId: new Float64Array(capacity),
    bbox: sharedFloat64(4 * capacity),
    area: sharedFloat64(capacity),
    ignore: sharedUint8(capacity),
    segmentation: keepSegmentation ? [] : null,
  };
}

function _growAnnotations(a: _Annotations): _Annotations {
  const b = _newAnnotations(2 * a.id.length + 16, a.segmentation !== null);
  b.id.set(a.id), b.imageId.set(a.imageId), b.categoryId.set(a.categoryId);
  b.bbox.set(a.bbox), b.area.set(a.area), b.ignore.set(a.ignore);
  return { ...b, count: a.count, segmentation: a.segmentation };
}

function _readAnnotation(file: string, v: unknown, i: number, ann: _Annotations): void {
  const L = "annotations";
  const o = (v !== null && typeof v === "object" && !Array.isArray(v) ? v : _object(file, `${L}[${i}]`, v)) as Record<
    string,
    unknown
  >;
  ann.id[i] = _field(file, L, i, "id", o.id);
  ann.imageId[i] = _field(file, L, i, "image_id", o.image_id);
  ann.categoryId[i] = _field(file, L, i, "category_id", o.category_id);
  const box = o.bbox as number[];
  if (
    Array.isArray(box) && box.length === 4 && Number.isFinite(box[0]) && Number.isFinite(box[1]) &&
    box[2] >= 0 && box[3] >= 0 && box[2] < Infinity && box[3] < Infinity
  ) {
    for (let j = 0; j < 4; j++) ann.bbox[4 * i + j] = box[j];
  } else readBox(file, `${L}[${i}].bbox`, box, ann.bbox, 4 * i);
  ann.area[i] = _field(file, L, i, "area", o.area);
  ann.ignore[i] = o.ignore ? 1 : 0;
  if (ann.segmentation) {
    if (o.segmentation === undefined) throw jsonError(file, `${L}[${i}].segmentation`, "missing");
    ann.segmentation[i] = o.segmentation;
  }
}

const _ANN_KEYS = ["id", "image_id", "category_id", "bbox", "area", "segmentation", "ignore"].map((k) =>
  new TextEncoder().encode(k)
);
const _UTF8 = new TextDecoder();

/**
 * The annotations array read in place: plain fields parsed where they lie, polygons skipped (or parsed alone for
 * segm); anything unusual is parsed whole, so messages match `parseGroundTruth`'s. Null when not a well-formed
 * array (the caller then parses the file whole, for JSON.parse's message).
 */
function _annotationsFromBytes(file: string, b: Uint8Array, start: number, keep: boolean): _Annotations | null {
  let ann = _newAnnotations(Math.max(16, Math.ceil(b.length / 200)), keep);
  let p = skipWs(b, start);
  if (b[p] !== 91) return null;
  p = skipWs(b, p + 1);
  if (b[p] === 93) return ann;
  for (let i = 0;; i++) {
    if (i === ann.id.length) ann = _growAnnotations(ann);
    const elementStart = p;
    const end = _fastAnnotation(b, p, i, ann);
    if (end >= 0) p = end;
    else {
      p = skipValue(b, elementStart);
      if (p < 0) return null;
      let v: unknown;
      try {
        v = JSON.parse(_UTF8.decode(b.subarray(elementStart, p)));
      } catch {
        return null;
      }
      _readAnnotation(file, v, i, ann);
    }
    ann.count = i + 1;
    p = skipWs(b, p);
    if (b[p] === 93) return ann;
    if (b[p] !== 44) return null;
    p = skipWs(b, p + 1);
  }
}

function _fastAnnotation(b: Uint8Array, p: number, i: number, ann: _Annotations): number {
  if (b[p] !== 123) return -1;
  let seen = 0;
  for (p++;;) {
    p = skipWs(b, p);
    if (b[p] !== 34) return -1;
    const ks = p + 1, ke = skipString(b, p);
    if (ke < 0) return -1;
    const k = keyOf(b, ks, ke - 1 - ks, _ANN_KEYS);
    p = skipWs(b, ke);
    if (b[p] !== 58 || k === 6) return -1;
    p = skipWs(b, p + 1);
    if (k === 3) {
      if (b[p] !== 91) return -1;
      for (let j = 0; j < 4; j++) {
        const v = numberAt(b, skipWs(b, p + 1));
        if (numberEnd() === BAD || !Number.isFinite(v) || (j >= 2 && v < 0)) return -1;
        ann.bbox[4 * i + j] = v;
        p = skipWs(b, numberEnd());
        if (b[p] !== (j < 3 ? 44 : 93)) return -1;
      }
      p++;
    } else if (k === 5 || k < 0) {
      const e = skipValue(b, p);
      if (e < 0) return -1;
      if (k === 5 && ann.segmentation) {
        try {
          ann.segmentation[i] = JSON.parse(_UTF8.decode(b.subarray(p, e)));
        } catch {
          return -1;
        }
      }
      p = e;
    } else {
      const v = numberAt(b, p);
      if (numberEnd() === BAD || !Number.isFinite(v)) return -1;
      p = numberEnd();
      if (k === 0) ann.id[i] = v;
      else if (k === 1) ann.imageId[i] = v;
      else if (k === 2) ann.categoryId[i] = v;
      else ann.area[i] = v;
    }
    if (k >= 0) seen |= 1 << k;
    p = skipWs(b, p);
    if (b[p] === 44) p++;
    else if (b[p] === 125) break;
    else return -1;
  }
  ann.ignore[i] = 0;
  const need = ann.segmentation ? 63 : 31;
  return (seen & need) === need ? p + 1 : -1;
}

function _topLevel(b: Uint8Array): Map<string, [number, number]> | null {
  const out = new Map<string, [number, number]>();
  let p = skipWs(b, 0);
  if (b[p] !== 123) return null;
  p = skipWs(b, p + 1);
  if (b[p] === 125) return skipWs(b, p + 1) === b.length ? out : null;
  for (;;) {
    if (b[p] !== 34) return null;
    const ke = skipString(b, p);
    if (ke < 0) return null;
    const key = _UTF8.decode(b.subarray(p + 1, ke - 1));
    p = skipWs(b, ke);
    if (b[p] !== 58) return null;
    const vs = skipWs(b, p + 1), ve = skipValue(b, vs);
    if (ve < 0) return null;
    out.set(key, [vs, ve]);
    p = skipWs(b, ve);
    if (b[p] === 125) return skipWs(b, p + 1) === b.length ? out : null;
    if (b[p] !== 44) return null;
    p = skipWs(b, p + 1);
  }
}

function _deriveFrequency(
  cats: { count: number }[],
  annotationImage: Int32Array,
  annotationCategory: Int32Array,
  frequency: Uint8Array,
  name: string,
  notes: string[],
): void {
  const fromField = cats.every((c) => c.count >= 0);
  const counts = cats.map((c) => c.count);
  if (!fromField) {
    const seen = new Set<number>();
    counts.fill(0);
    const K = cats.length;
    for (let a = 0; a < annotationImage.length; a++) {
      const img = annotationImage[a], cat = annotationCategory[a];
      if (img >= 0 && cat >= 0 && !seen.has(img * K + cat)) (seen.add(img * K + cat), counts[cat]++);
    }
  }
  counts.forEach((c, k) => (frequency[k] = frequencyOf(c)));
  const groups = [0, 1, 2].map((f) => counts.filter((_, k) => frequency[k] === f).length);
  notes.push(
    `${name} has no category frequencies: derived from ${
      fromField ? "each category's image_count" : `the images ${name} annotates per category`
    } with LVIS's thresholds (rare 1-10, common 11-100, frequent > 100): ${groups[0]} r, ${groups[1]} c, ${
      groups[2]
    } f`,
  );
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
  let bytes: Uint8Array;
  try {
    // A plain Uint8Array, not the Buffer subclass: the byte scanners shared with the results readers then
    // see one kind of array and stay optimized.
    const buffer = await readFile(path);
    bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (e) {
    throw new InputError(`Cannot read ground truth ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  // The images and categories are parsed as JSON; the annotations, the bulk, are read in place.
  const top = _topLevel(bytes);
  const annRange = top?.get("annotations");
  const ann = top && annRange ? _annotationsFromBytes(path, bytes, annRange[0], keepSegmentation) : null;
  if (!top || !ann) return parseGroundTruth(_parseWhole(path, bytes), path, keepSegmentation);
  let images: unknown, categories: unknown;
  try {
    const part = (r: [number, number] | undefined) => r && JSON.parse(_UTF8.decode(bytes.subarray(r[0], r[1])));
    [images, categories] = [part(top.get("images")), part(top.get("categories"))];
  } catch {
    return parseGroundTruth(_parseWhole(path, bytes), path, keepSegmentation);
  }
  return _build(path, _array(path, "images", images), _array(path, "categories", categories), ann);
}

function _parseWhole(path: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(_UTF8.decode(bytes));
  } catch (e) {
    throw new InputError(`Cannot parse ${JSON.stringify(path)} as JSON: ${(e as Error).message}`);
  }
}
