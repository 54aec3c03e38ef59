import { jsonError } from "./json_path.ts";
import type { GroundTruth } from "./ground_truth.ts";
import { resultPath, type Results } from "./results_file.ts";
import { decodeRle, polygonToRle, type Rle, rleArea, rleToBbox, unionRle } from "./rle.ts";

export type IouType = "bbox" | "segm";

/**
 * Result areas as the reference takes them: if the result it lists first carries a box, every area is the box's
 * w * h (returned as null), otherwise the mask area.
 */
export function resultAreas(
  dt: Results,
  keep: Uint8Array | null,
  boxAreas: boolean,
  masks: (Rle | undefined)[],
): Float64Array | null {
  if (boxAreas) {
    for (let i = 0; i < dt.count; i++) {
      if ((!keep || keep[i]) && !dt.hasBbox[i]) {
        throw jsonError(dt.file, resultPath(i, "bbox"), "missing (the first result has a box, so all must)");
      }
    }
    return null;
  }
  const area = new Float64Array(dt.count);
  for (let i = 0; i < dt.count; i++) if (!keep || keep[i]) area[i] = rleArea(masks[i] ?? resultMask(dt, i, masks));
  return area;
}

export function resultArea(dt: Results, areas: Float64Array | null, i: number): number {
  return areas ? areas[i] : dt.bbox[4 * i + 2] * dt.bbox[4 * i + 3];
}

export function resultMask(dt: Results, i: number, masks: (Rle | undefined)[]): Rle {
  let m = masks[i];
  if (m) return m;
  const seg = dt.segmentation?.[i];
  if (!seg) {
    throw jsonError(
      dt.file,
      resultPath(i, "segmentation"),
      "missing (the first result has no box, so all need a mask)",
    );
  }
  m = masks[i] = decodeRle(seg);
  return m;
}

/**
 * Refuse results without masks for segm evaluation, naming the first (lvis-api would rasterise such a
 * result's box and score it as a mask).
 */
export function requireMasks(dt: Results): void {
  let at = -1;
  if (dt.selected) at = dt.selected.firstWithoutMask;
  else for (let i = 0; i < dt.count && at < 0; i++) if (!dt.segmentation?.[i]) at = i;
  if (at >= 0) {
    throw jsonError(dt.file, `[${at}].segmentation`, "missing: segm evaluation needs a mask in every result");
  }
}

/** Ground-truth mask from polygons (merged), boxes-as-polygons quirk included, or RLE. */
export function groundTruthMask(gt: GroundTruth, a: number): Rle {
  const seg = gt.annotationSegmentation![a];
  const img = gt.annotationImage[a];
  const h = gt.imageHeight[img], w = gt.imageWidth[img];
  const path = `annotations[${a}].segmentation`;
  if (Array.isArray(seg)) {
    if (seg.length === 0 || !seg.every((p) => Array.isArray(p) && p.every((v) => typeof v === "number"))) {
      throw jsonError(gt.file, path, "expected a non-empty list of polygons");
    }
    const polys = seg as number[][];
    // pycocotools reads a list whose first entry has exactly 4 numbers as boxes.
    const parts = polys[0].length === 4
      ? polys.map(([x, y, bw, bh]) => polygonToRle([x, y, x, y + bh, x + bw, y + bh, x + bw, y], h, w))
      : polys.map((p) => polygonToRle(p, h, w));
    return unionRle(parts);
  }
  const o = seg as { size?: unknown; counts?: unknown } | null;
  if (o && Array.isArray(o.size) && typeof o.counts === "string") {
    return decodeRle({ size: o.size as [number, number], counts: o.counts });
  }
  if (o && Array.isArray(o.counts)) return { h, w, counts: Uint32Array.from(o.counts as number[]) };
  throw jsonError(gt.file, path, "expected polygons or an RLE");
}

export function resultBox(dt: Results, i: number, masks: (Rle | undefined)[], out: Float64Array, at: number): void {
  if (dt.hasBbox[i]) {
    const b = dt.bbox;
    out[at] = b[4 * i];
    out[at + 1] = b[4 * i + 1];
    out[at + 2] = b[4 * i + 2];
    out[at + 3] = b[4 * i + 3];
  } else out.set(rleToBbox(resultMask(dt, i, masks)), at);
}
