import { quote } from "../../core/errors.ts";
import { type Dataset, FREQUENCIES, frequencyOfImageCount } from "../dataset.ts";
import type { IssueLog } from "./issues.ts";
import type { RawAnnotationFile } from "./read_annotation_file.ts";

/** How far (pixels) a box may stick out of its image before a warning; rounding in published files. */
const BOX_SLACK = 1;

function _indexOf(ids: readonly number[], kind: string, key: string, file: string, issues: IssueLog) {
  const map = new Map<number, number>();
  ids.forEach((id, i) => {
    if (map.has(id)) {
      issues.error(
        `duplicate ${kind} id`,
        `Duplicate id in "${key}[${i}].id" in "${file}": ${quote(id)} is also ${key}[${map.get(id)}]`,
      );
    } else map.set(id, i);
  });
  return map;
}

function _ranges(
  lists: readonly (number[] | undefined)[],
  catIndex: Map<number, number>,
  where: { field: string; file: string; issues: IssueLog },
): { start: Uint32Array; values: Uint32Array } {
  const start = new Uint32Array(lists.length + 1);
  const values: number[] = [];
  lists.forEach((list, i) => {
    for (const [j, id] of (list ?? []).entries()) {
      const c = catIndex.get(id);
      if (c === undefined) {
        where.issues.error(
          "unknown category id",
          () =>
            `Unknown category in "images[${i}].${where.field}[${j}]" in "${where.file}": ${
              quote(id)
            } is not a category id`,
        );
      } else values.push(c);
    }
    start[i + 1] = values.length;
  });
  return { start, values: Uint32Array.from(values) };
}

/**
 * Resolve ids to indices, check references (unknown or duplicate ids, boxes outside their image), group
 * annotations by image, fill in category statistics. Errors go to `issues`; unknown ids are left out.
 */
export function buildDataset(
  raw: RawAnnotationFile,
  options: { source: string; imageRoot: string; issues: IssueLog; name?: string },
): Dataset {
  const { issues } = options;
  const file = options.name ?? options.source.split("/").pop()!;
  const imgIndex = _indexOf(raw.images.ids, "image", "images", file, issues);
  // Categories are stored in id order, as the LVIS API sorts them.
  const catOrder = raw.categories.ids.map((_, i) => i).sort((a, b) => raw.categories.ids[a] - raw.categories.ids[b]);
  const catIndex = new Map<number, number>();
  const fileCatIndex = _indexOf(raw.categories.ids, "category", "categories", file, issues);
  catOrder.forEach((fileI, i) => {
    if (fileCatIndex.get(raw.categories.ids[fileI]) === fileI) catIndex.set(raw.categories.ids[fileI], i);
  });
  const numImages = raw.images.ids.length;
  const a = raw.annotations;
  const imageOf = new Uint32Array(a.count);
  const catOf = new Uint32Array(a.count);
  const keep = new Uint8Array(a.count);
  const perImage = new Uint32Array(numImages + 1);
  for (let i = 0; i < a.count; i++) {
    const im = imgIndex.get(a.imageIds[i]);
    const ca = catIndex.get(a.categoryIds[i]);
    if (im === undefined) {
      issues.error(
        "unknown image id",
        () => `Unknown image in "annotations[${i}].image_id" in "${file}": ${quote(a.imageIds[i])} is not an image id`,
      );
    }
    if (ca === undefined) {
      issues.error(
        "unknown category id",
        () =>
          `Unknown category in "annotations[${i}].category_id" in "${file}": ${
            quote(a.categoryIds[i])
          } is not a category id`,
      );
    }
    if (im === undefined || ca === undefined) continue;
    imageOf[i] = im;
    catOf[i] = ca;
    keep[i] = 1;
    perImage[im + 1]++;
    const x = a.bbox[4 * i], y = a.bbox[4 * i + 1], w = a.bbox[4 * i + 2], h = a.bbox[4 * i + 3];
    if (!(w > 0 && h > 0)) {
      issues.warn(
        "non-positive box size",
        () => `Box "annotations[${i}].bbox" in "${file}" has a non-positive size: ${quote([x, y, w, h])}`,
      );
    } else if (
      x < -BOX_SLACK || y < -BOX_SLACK || x + w > raw.images.width[im] + BOX_SLACK ||
      y + h > raw.images.height[im] + BOX_SLACK
    ) {
      issues.warn(
        "box outside image",
        () =>
          `Box "annotations[${i}].bbox" in "${file}" lies outside its ${raw.images.width[im]}x${
            raw.images.height[im]
          } image: ${quote([x, y, w, h])}`,
      );
    }
  }
  _checkDuplicateAnnotationIds(a.ids.subarray(0, a.count), file, issues);
  _checkMasks(a, { keep, imageOf }, raw.images, { file, issues });
  for (let i = 0; i < numImages; i++) perImage[i + 1] += perImage[i];
  const kept = perImage[numImages];
  // Counting sort by image keeps file order within an image.
  const order = new Uint32Array(kept);
  const fill = perImage.slice(0, numImages);
  for (let i = 0; i < a.count; i++) if (keep[i]) order[fill[imageOf[i]]++] = i;
  // One pass per column with concrete types keeps these loops monomorphic (1.27M annotations in LVIS).
  const ids = new Float64Array(kept);
  const image = new Uint32Array(kept);
  const category = new Uint32Array(kept);
  const area = new Float64Array(kept);
  const iscrowd = new Uint8Array(kept);
  const bbox = new Float64Array(4 * kept);
  const polyStart = new Uint32Array(kept);
  const polyEnd = new Uint32Array(kept);
  const rle = _rleColumns(a, order, { raw, imageOf, file, issues });
  for (let k = 0; k < kept; k++) {
    const i = order[k];
    ids[k] = a.ids[i];
    image[k] = imageOf[i];
    category[k] = catOf[i];
    area[k] = a.area[i];
    iscrowd[k] = a.iscrowd[i];
    for (let q = 0; q < 4; q++) bbox[4 * k + q] = a.bbox[4 * i + q];
    polyStart[k] = a.polyStart[i];
    polyEnd[k] = a.polyStart[i + 1];
  }
  const annotations = {
    count: kept,
    ids,
    image,
    category,
    bbox,
    area,
    iscrowd,
    polyStart,
    polyEnd,
    coordStart: a.coordStart.subarray(0, a.numPolys + 1),
    coords: a.coords.subarray(0, a.numCoords),
    ...rle,
  };

  const where = { file, issues };
  const neg = _ranges(raw.images.neg, catIndex, { ...where, field: "neg_category_ids" });
  const notEx = _ranges(raw.images.notExhaustive, catIndex, { ...where, field: "not_exhaustive_category_ids" });
  _checkNegativesNotPositive(annotations, neg, file, issues);
  const images = {
    count: numImages,
    ids: Float64Array.from(raw.images.ids),
    width: Int32Array.from(raw.images.width),
    height: Int32Array.from(raw.images.height),
    fileNames: raw.images.fileNames,
    annStart: perImage,
    negStart: neg.start,
    negCategories: neg.values,
    notExhaustiveStart: notEx.start,
    notExhaustiveCategories: notEx.values,
  };
  return {
    format: raw.lvis ? "lvis" : "coco",
    source: options.source,
    imageRoot: options.imageRoot,
    contentHash: raw.contentHash,
    hasMasks: true,
    assumed: {
      frequency: raw.categories.frequency.some((f) => f === undefined),
      exhaustive: !raw.images.neg.some(Boolean) && !raw.images.notExhaustive.some(Boolean),
    },
    images,
    annotations,
    categories: _categories(raw, catOrder, annotations),
  };
}

/** The RLE columns of the kept annotations; an RLE not of its image's size is an error, and keeps no mask. */
function _rleColumns(
  a: RawAnnotationFile["annotations"],
  order: Uint32Array,
  where: { raw: RawAnnotationFile; imageOf: Uint32Array; file: string; issues: IssueLog },
): { rleStart: Uint32Array; rleEnd: Uint32Array; rleCounts: Uint32Array } {
  const rleStart = new Uint32Array(order.length), rleEnd = new Uint32Array(order.length);
  if (a.rles.size === 0) return { rleStart, rleEnd, rleCounts: new Uint32Array(0) };
  let total = 0;
  for (const m of a.rles.values()) total += m.counts.length;
  const rleCounts = new Uint32Array(total);
  let at = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    rleStart[k] = rleEnd[k] = at;
    const m = a.rles.get(i);
    if (!m) continue;
    const im = where.imageOf[i];
    const h = where.raw.images.height[im], w = where.raw.images.width[im];
    if (m.h !== h || m.w !== w) {
      where.issues.error(
        "RLE size differs from its image",
        `Cannot use RLE "annotations[${i}].segmentation" (annotation id ${a.ids[i]}) in "${where.file}": ` +
          `its size is ${quote([m.h, m.w])}, its image is ${h}x${w} (height x width)`,
      );
      continue;
    }
    rleCounts.set(m.counts, at);
    at += m.counts.length;
    rleEnd[k] = at;
  }
  return { rleStart, rleEnd, rleCounts: rleCounts.subarray(0, at) };
}

/** Warnings for masks that pycocotools would clip or that go unused: polygons outside their image, crowd masks. */
function _checkMasks(
  a: RawAnnotationFile["annotations"],
  kept: { keep: Uint8Array; imageOf: Uint32Array },
  images: RawAnnotationFile["images"],
  where: { file: string; issues: IssueLog },
): void {
  const { coords, coordStart, polyStart, iscrowd } = a;
  for (let i = 0; i < a.count; i++) {
    if (!kept.keep[i]) continue;
    const from = coordStart[polyStart[i]], to = coordStart[polyStart[i + 1]];
    if (iscrowd[i] && (to > from || a.rles.has(i))) _crowdMask(a.ids[i], where.file, where.issues);
    const im = kept.imageOf[i];
    const w = images.width[im] + BOX_SLACK, h = images.height[im] + BOX_SLACK;
    let j = from;
    while (j < to && coords[j] >= -BOX_SLACK && coords[j] <= w && coords[j + 1] >= -BOX_SLACK && coords[j + 1] <= h) {
      j += 2;
    }
    if (j < to) {
      _polygonOutside(a.ids[i], [coords[j], coords[j + 1]], { ...where, width: w - BOX_SLACK, height: h - BOX_SLACK });
    }
  }
}

function _crowdMask(id: number, file: string, issues: IssueLog): void {
  issues.warn(
    "mask on a crowd annotation",
    () =>
      `Crowd annotation id ${id} in "${file}" has a mask; crowd regions are left out of training ` +
      "and of LVIS evaluation, so it is not used",
  );
}

function _polygonOutside(
  id: number,
  point: number[],
  where: { width: number; height: number; file: string; issues: IssueLog },
): void {
  where.issues.warn(
    "polygon outside image",
    () =>
      `Polygon of annotation id ${id} in "${where.file}" has a point outside its ${where.width}x${where.height} ` +
      `image: ${quote(point)}; pycocotools clips it`,
  );
}

function _checkDuplicateAnnotationIds(ids: Float64Array, file: string, issues: IssueLog): void {
  const sorted = ids.slice().sort();
  const dup = new Set<number>();
  for (let k = 1; k < sorted.length; k++) if (sorted[k] === sorted[k - 1]) dup.add(sorted[k]);
  if (dup.size === 0) return;
  // Rare, so a second pass to name the places is cheap.
  const first = new Map<number, number>();
  ids.forEach((id, i) => {
    if (!dup.has(id)) return;
    if (first.has(id)) {
      issues.error(
        "duplicate annotation id",
        `Duplicate id in "annotations[${i}].id" in "${file}": ${quote(id)} is also annotations[${first.get(id)}]`,
      );
    } else first.set(id, i);
  });
}

function _checkNegativesNotPositive(
  ann: { image: Uint32Array; category: Uint32Array; count: number },
  neg: { start: Uint32Array; values: Uint32Array },
  file: string,
  issues: IssueLog,
): void {
  for (let k = 0; k < ann.count; k++) {
    const im = ann.image[k];
    for (let j = neg.start[im]; j < neg.start[im + 1]; j++) {
      if (neg.values[j] === ann.category[k]) {
        issues.warn(
          "annotated category listed as negative",
          () =>
            `Image ${im} in "${file}" lists category index ${ann.category[k]} in "neg_category_ids" but annotates it`,
        );
      }
    }
  }
}

function _categories(
  raw: RawAnnotationFile,
  order: number[],
  ann: { image: Uint32Array; category: Uint32Array; count: number },
) {
  const n = order.length;
  const imageCount = new Uint32Array(n);
  const instanceCount = new Uint32Array(n);
  const lastImage = new Int32Array(n).fill(-1);
  // Annotations are grouped by image, so "last image seen" counts each image once.
  for (let k = 0; k < ann.count; k++) {
    const c = ann.category[k];
    instanceCount[c]++;
    if (lastImage[c] !== ann.image[k]) {
      lastImage[c] = ann.image[k];
      imageCount[c]++;
    }
  }
  const rc = raw.categories;
  const frequency = new Uint8Array(n);
  order.forEach((fileI, i) => {
    imageCount[i] = rc.imageCount[fileI] ?? imageCount[i];
    instanceCount[i] = rc.instanceCount[fileI] ?? instanceCount[i];
    frequency[i] = FREQUENCIES.indexOf(rc.frequency[fileI] ?? frequencyOfImageCount(imageCount[i]));
  });
  return {
    count: n,
    ids: Int32Array.from(order.map((i) => rc.ids[i])),
    names: order.map((i) => rc.names[i]),
    frequency,
    imageCount,
    instanceCount,
  };
}
