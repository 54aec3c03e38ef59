/**
 * Per-image matching and per-category accumulation: the heart of LVIS
 * evaluation, over typed arrays grouped by (category, image).
 */
import { AccumulateScratch, precisionAtRecall } from "./accumulate.ts";
import { Matcher, type MatchInput } from "./match.ts";
import type { EvalState, PooledDetections } from "./eval_state.ts";
import { groundTruthMask, type IouType, resultAreas, resultBox, resultMaskForIou } from "./geometry.ts";
import { type GroundTruth, NEGATIVE, NOT_EXHAUSTIVE } from "./ground_truth.ts";
import { A, R, T } from "./params.ts";
import type { Results } from "./results_file.ts";
import type { Rle } from "./rle.ts";
import { boxIouMatrix, maskIouMatrix } from "./pair_iou.ts";
import { groupBy, selectResults } from "./select.ts";

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** "bbox" (default) or "segm". */
  iouType?: IouType;
  /** Per-image cap, across categories (default 300; -1 for none). */
  maxDets?: number;
  /** Keep only the top results per category over the file (AP-fixed: 10000; default -1, off). */
  detsPerCat?: number;
  /** Keep what AP-pooled needs. */
  pooled?: boolean;
  /** Evaluate only these category ids (default all); states of disjoint subsets merge. */
  categoryIds?: readonly number[];
}

/** Sort positions `order[s..e)` by score, descending, ties keeping their current order (insertion sort: runs are short). */
function _sortRun(order: Int32Array, s: number, e: number, score: Float64Array): void {
  for (let i = s + 1; i < e; i++) {
    const v = order[i], sv = score[v];
    let j = i - 1;
    while (j >= s && score[order[j]] < sv) (order[j + 1] = order[j], j--);
    order[j + 1] = v;
  }
}

/** Positions 0..n-1 ranked by `score` descending, ties by position: a stable merge sort. */
function _rankByScore(score: Float64Array, n: number, out: Int32Array, tmp: Int32Array): void {
  for (let i = 0; i < n; i++) out[i] = i;
  // Start from the already sorted runs (one per image), then merge pairs of runs bottom-up.
  let src = out, dst = tmp;
  const starts: number[] = [0];
  for (let i = 1; i < n; i++) if (score[i] > score[i - 1]) starts.push(i);
  starts.push(n);
  let runs = starts;
  while (runs.length > 2) {
    const next: number[] = [0];
    for (let r = 0; r + 1 < runs.length; r += 2) {
      const a0 = runs[r], a1 = runs[r + 1], b1 = r + 2 < runs.length ? runs[r + 2] : a1;
      let i = a0, j = a1, k = a0;
      while (i < a1 && j < b1) dst[k++] = score[src[j]] > score[src[i]] ? src[j++] : src[i++];
      while (i < a1) dst[k++] = src[i++];
      while (j < b1) dst[k++] = src[j++];
      next.push(b1);
    }
    runs = next;
    [src, dst] = [dst, src];
  }
  if (src !== out) out.set(src.subarray(0, n));
}

/** Positions grouped by (category, image), file order inside a group, as [category start offsets, order]. */
function _groupByCategoryImage(
  items: Int32Array,
  category: ArrayLike<number>,
  image: ArrayLike<number>,
  numCategories: number,
  numImages: number,
): { catStart: Int32Array; order: Int32Array } {
  const n = items.length;
  const byImage = groupBy(Int32Array.from(items, (i) => image[i]), n, numImages).order;
  const cats = new Int32Array(n);
  for (let j = 0; j < n; j++) cats[j] = category[items[byImage[j]]];
  const byCat = groupBy(cats, n, numCategories);
  const order = new Int32Array(n);
  for (let j = 0; j < n; j++) order[j] = items[byImage[byCat.order[j]]];
  return { catStart: byCat.start, order };
}

/**
 * Evaluate results against ground truth: selection, federated filter,
 * matching per (category, area, image) and accumulation.
 *
 * @param gt ground truth from `readGroundTruth`
 * @param dt results from `readResults`
 * @param options iou type, limits and the categories to cover
 * @returns the raw state; pass it to `summarize` (or merge states first)
 * @example
 * ```ts
 * const state = evaluate(gt, dt, { iouType: "bbox" });
 * ```
 */
export function evaluate(gt: GroundTruth, dt: Results, options: EvaluateOptions = {}): EvalState {
  const iouType = options.iouType ?? "bbox";
  const maxDets = options.maxDets ?? 300;
  const detsPerCat = options.detsPerCat ?? -1;
  const K = gt.categoryIds.length, I = gt.imageIds.length;
  const evaluated = new Uint8Array(K);
  if (options.categoryIds) {
    for (const id of options.categoryIds) {
      const k = gt.categoryIndex.get(id);
      if (k !== undefined) evaluated[k] = 1;
    }
  } else evaluated.fill(1);

  // 1. Limits, 2. areas (the box-area quirk; AP-fixed drops boxes for segm as its script does).
  const sel = selectResults(dt, I, K, { maxDets, detsPerCat });
  const masks: (Rle | undefined)[] = [];
  const useBoxes = !(iouType === "segm" && detsPerCat >= 0);
  const area = resultAreas(dt, sel.keep, sel.first, useBoxes, masks);

  // 3. Ground truth with a valid area and known image/category fixes the positive set.
  const flags = gt.imageCategoryFlags;
  const POSITIVE = 4;
  const positive = new Uint8Array(flags.length);
  const gtItems: number[] = [];
  for (let a = 0; a < gt.annotationCount; a++) {
    const ar = gt.annotationArea[a], img = gt.annotationImage[a], cat = gt.annotationCategory[a];
    if (!(ar > 0 && ar < Infinity) || img < 0 || cat < 0) continue;
    positive[img * K + cat] = POSITIVE;
    gtItems.push(a);
  }
  // 4. Federated filter.
  const dtItems: number[] = [];
  for (let i = 0; i < dt.count; i++) {
    const cat = dt.category[i], ar = area[i];
    if (!sel.keep[i] || cat < 0 || !(ar > 0 && ar < Infinity)) continue;
    const at = dt.image[i] * K + cat;
    if (positive[at] || flags[at] & NEGATIVE) dtItems.push(i);
  }
  const gtUsedAll = Int32Array.from(gtItems.filter((a) => evaluated[gt.annotationCategory[a]]));
  const dtUsedAll = Int32Array.from(dtItems.filter((i) => evaluated[dt.category[i]]));
  const gtG = _groupByCategoryImage(gtUsedAll, gt.annotationCategory, gt.annotationImage, K, I);
  const dtG = _groupByCategoryImage(dtUsedAll, dt.category, dt.image, K, I);
  const nd = dtUsedAll.length;
  const dOrder = dtG.order, gOrder = gtG.order;

  // Boxes (bbox) or masks (segm) in grouped order.
  const dtBox = new Float64Array(iouType === "bbox" ? 4 * nd : 0);

  const precision = new Float64Array(T * R * K * A).fill(-1);
  const recall = new Float64Array(T * K * A).fill(-1);
  const numGt = new Int32Array(K * A);
  const present = new Uint8Array(K);
  const scratch = new AccumulateScratch();
  const pooled: PooledDetections | null = options.pooled
    ? {
      count: nd,
      score: new Float64Array(nd),
      image: new Int32Array(nd),
      category: new Int32Array(nd),
      rank: new Int32Array(nd),
      status: new Uint8Array(T * nd),
    }
    : null;

  let status = new Uint8Array(0);
  let sc = new Float64Array(0), ranked = new Int32Array(0), rankTmp = new Int32Array(0);
  let iou = new Float64Array(0);
  const matcher = new Matcher();
  const mx: MatchInput = {
    m: 0,
    n: 0,
    iou,
    dtArea: new Float64Array(64),
    gtArea: new Float64Array(64),
    gtIgnore: new Uint8Array(64),
    gtId: new Float64Array(64),
    notExhaustive: false,
  };

  for (let k = 0; k < K; k++) {
    if (!evaluated[k]) continue;
    const ds = dtG.catStart[k], de = dtG.catStart[k + 1], gs = gtG.catStart[k], ge = gtG.catStart[k + 1];
    if (ds === de && gs === ge) continue;
    present[k] = 1;
    const nc = de - ds;
    if (status.length < A * T * nc) status = new Uint8Array(2 * A * T * nc);
    let d0 = ds, g0 = gs;
    while (d0 < de || g0 < ge) {
      // The next image with ground truth or detections of category k.
      const imgD = d0 < de ? dt.image[dOrder[d0]] : I, imgG = g0 < ge ? gt.annotationImage[gOrder[g0]] : I;
      const img = Math.min(imgD, imgG);
      let d1 = d0, g1 = g0;
      while (d1 < de && dt.image[dOrder[d1]] === img) d1++;
      while (g1 < ge && gt.annotationImage[gOrder[g1]] === img) g1++;
      _sortRun(dOrder, d0, d1, dt.score);
      if (iouType === "bbox") { for (let j = d0; j < d1; j++) resultBox(dt, dOrder[j], masks, dtBox, 4 * j); }
      const m = d1 - d0, n = g1 - g0;
      if (iou.length < m * n) iou = new Float64Array(2 * m * n);
      if (m && n) {
        if (iouType === "bbox") {
          boxIouMatrix({ dtBox, dtStart: d0, m }, { gtBox: gt.annotationBbox, gtIndex: gOrder, gtStart: g0, n }, iou);
        } else {
          const gtMask = Array.from({ length: n }, (_, g) => groundTruthMask(gt, gOrder[g0 + g]));
          const dtMask = Array.from({ length: m }, (_, d) => resultMaskForIou(dt, gt, dOrder[d0 + d], masks));
          maskIouMatrix(dtMask, gtMask, iou);
        }
      }
      if (mx.dtArea.length < m) mx.dtArea = new Float64Array(2 * m);
      if (mx.gtArea.length < n) {
        (mx.gtArea = new Float64Array(2 * n), mx.gtIgnore = new Uint8Array(2 * n), mx.gtId = new Float64Array(2 * n));
      }
      for (let d = 0; d < m; d++) mx.dtArea[d] = area[dOrder[d0 + d]];
      for (let g = 0; g < n; g++) {
        const a = gOrder[g0 + g];
        mx.gtArea[g] = gt.annotationArea[a];
        mx.gtIgnore[g] = gt.annotationIgnore[a];
        mx.gtId[g] = gt.annotationId[a];
      }
      mx.m = m;
      mx.n = n;
      mx.iou = iou;
      mx.notExhaustive = (flags[img * K + k] & NOT_EXHAUSTIVE) !== 0;
      matcher.run(mx, status, d0 - ds, nc, numGt, k * A);
      d0 = d1;
      g0 = g1;
    }

    // Accumulate: rank the category's detections by score, stable over (image, in-image) order.
    if (sc.length < nc) {
      (sc = new Float64Array(2 * nc), ranked = new Int32Array(2 * nc), rankTmp = new Int32Array(2 * nc));
    }
    for (let j = 0; j < nc; j++) sc[j] = dt.score[dOrder[ds + j]];
    _rankByScore(sc, nc, ranked, rankTmp);
    const order = ranked.subarray(0, nc);
    for (let ai = 0; ai < A; ai++) {
      const ng = numGt[k * A + ai];
      if (ng === 0) continue;
      for (let t = 0; t < T; t++) {
        recall[(t * K + k) * A + ai] = precisionAtRecall(
          { status, offset: (ai * T + t) * nc, order, numGt: ng },
          precision,
          ((t * R) * K + k) * A + ai,
          K * A,
          scratch,
        );
      }
    }
    if (pooled) {
      let prevImg = -1, r = 0;
      for (let j = 0; j < nc; j++) {
        const i = dOrder[ds + j], p = ds + j;
        r = dt.image[i] === prevImg ? r + 1 : 0;
        prevImg = dt.image[i];
        pooled.score[p] = dt.score[i];
        pooled.image[p] = dt.image[i];
        pooled.category[p] = k;
        pooled.rank[p] = r;
        for (let t = 0; t < T; t++) pooled.status[t * nd + p] = status[t * nc + j];
      }
    }
  }

  return {
    iouType,
    maxDets,
    detsPerCat,
    categoryIds: gt.categoryIds,
    frequency: gt.frequency,
    categoryNames: gt.categoryNames,
    evaluated,
    precision,
    recall,
    numGt,
    present,
    pooled,
    counts: {
      images: I,
      categories: K,
      gtInFile: gt.annotationCount,
      gtUsed: gtUsedAll.length,
      dtInFile: dt.count,
      dtAfterLimits: sel.keptCount,
      dtUsed: nd,
    },
  };
}
