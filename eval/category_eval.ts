import { categoryCurves, CurveScratch, FP, IGNORED } from "./accumulate.ts";
import type { EvalState, PooledDetections } from "./eval_state.ts";
import type { Grouped } from "./federated.ts";
import { groundTruthMask, type IouType, resultArea, resultBox, resultMask } from "./geometry.ts";
import { type GroundTruth, NOT_EXHAUSTIVE } from "./ground_truth.ts";
import { Matcher, type MatchInput, MatchRecords, unmatchedFalsePositive } from "./match.ts";
import { boxIouMatrix, maskIouMatrix } from "./pair_iou.ts";
import { A, AT, R, T } from "./params.ts";
import type { Results } from "./results_file.ts";
import type { Rle } from "./rle.ts";

/** Sort positions `order[s..e)` by score, descending, ties keeping their current order (insertion sort: runs are short). */
function _sortRun(order: Int32Array, s: number, e: number, score: Float64Array): void {
  for (let i = s + 1; i < e; i++) {
    const v = order[i], sv = score[v];
    let j = i - 1;
    while (j >= s && score[order[j]] < sv) (order[j + 1] = order[j], j--);
    order[j + 1] = v;
  }
}

/** Positions 0..n-1 ranked by `score` descending, ties by position: a stable bottom-up merge of the sorted runs. */
function _rankByScore(score: Float64Array, n: number, out: Int32Array, tmp: Int32Array, runs: Int32Array): void {
  for (let i = 0; i < n; i++) out[i] = i;
  // Start from the already sorted runs (one per image), then merge pairs of runs bottom-up.
  let src = out, dst = tmp;
  let count = 0;
  runs[count++] = 0;
  for (let i = 1; i < n; i++) if (score[i] > score[i - 1]) runs[count++] = i;
  runs[count++] = n;
  while (count > 2) {
    let next = 1;
    for (let r = 0; r + 1 < count; r += 2) {
      const a0 = runs[r], a1 = runs[r + 1], b1 = r + 2 < count ? runs[r + 2] : a1;
      let i = a0, j = a1, k = a0;
      while (i < a1 && j < b1) dst[k++] = score[src[j]] > score[src[i]] ? src[j++] : src[i++];
      while (i < a1) dst[k++] = src[i++];
      while (j < b1) dst[k++] = src[j++];
      runs[next++] = b1;
    }
    count = next;
    [src, dst] = [dst, src];
  }
  if (src !== out) out.set(src.subarray(0, n));
}

export interface CategoryContext {
  gt: GroundTruth;
  dt: Results;
  iouType: IouType;
  /** Result areas (the reference's box-area quirk applied), null for box areas. */
  area: Float64Array | null;
  masks: (Rle | undefined)[];
  gtUsed: Grouped;
  dtUsed: Grouped;
}

export type CategoryOutputs = Pick<EvalState, "precision" | "recall" | "numGt" | "present">;

export class CategoryEvaluator {
  #records = new MatchRecords();
  #score = new Float64Array(0);
  #ranked = new Int32Array(0);
  #rankTmp = new Int32Array(0);
  #runs = new Int32Array(0);
  #dtBox = new Float64Array(256);
  #iou = new Float64Array(256);
  #matcher = new Matcher();
  #scratch = new CurveScratch();
  #mx: MatchInput = {
    m: 0,
    n: 0,
    iou: this.#iou,
    dtArea: new Float64Array(64),
    gtArea: new Float64Array(64),
    gtIgnore: new Uint8Array(64),
    gtId: new Float64Array(64),
    notExhaustive: false,
  };

  constructor(readonly ctx: CategoryContext) {}

  /** Match and accumulate category position `k`; a category without ground truth or detections is left untouched. */
  run(k: number, state: CategoryOutputs, pooled: PooledDetections | null): void {
    const { dtUsed, gtUsed } = this.ctx;
    const ds = dtUsed.catStart[k], de = dtUsed.catStart[k + 1];
    if (ds === de && gtUsed.catStart[k] === gtUsed.catStart[k + 1]) return;
    state.present[k] = 1;
    const nc = de - ds;
    this.#records.reset(nc);
    this.#match(k, state.numGt);
    this.#accumulate(k, nc, state);
    if (pooled) this.#pool(k, ds, nc, pooled);
  }

  #match(k: number, numGt: Int32Array): void {
    const { gt, dt, iouType, area, masks, dtUsed, gtUsed } = this.ctx;
    const K = gt.categoryIds.length, I = gt.imageIds.length;
    const dOrder = dtUsed.order, gOrder = gtUsed.order;
    const ds = dtUsed.catStart[k], de = dtUsed.catStart[k + 1], gs = gtUsed.catStart[k], ge = gtUsed.catStart[k + 1];
    const mx = this.#mx;
    let d0 = ds, g0 = gs;
    while (d0 < de || g0 < ge) {
      const imgD = d0 < de ? dt.image[dOrder[d0]] : I, imgG = g0 < ge ? gt.annotationImage[gOrder[g0]] : I;
      const img = Math.min(imgD, imgG);
      let d1 = d0, g1 = g0;
      while (d1 < de && dt.image[dOrder[d1]] === img) d1++;
      while (g1 < ge && gt.annotationImage[gOrder[g1]] === img) g1++;
      _sortRun(dOrder, d0, d1, dt.score);
      const m = d1 - d0, n = g1 - g0;
      const notExhaustive = (gt.imageCategoryFlags[img * K + k] & NOT_EXHAUSTIVE) !== 0;
      if (n === 0) {
        // No ground truth here (a negative category): every detection stays unmatched.
        const { base, rec } = this.#records;
        for (let d = 0, o = d0 - ds; d < m; d++, o++) {
          base[o] = notExhaustive ? 0 : unmatchedFalsePositive(resultArea(dt, area, dOrder[d0 + d]));
          rec[o] = -1;
        }
        d0 = d1;
        continue;
      }
      if (this.#iou.length < m * n) this.#iou = new Float64Array(2 * m * n);
      if (m && n) {
        if (iouType === "bbox") {
          if (this.#dtBox.length < 4 * m) this.#dtBox = new Float64Array(8 * m);
          for (let j = 0; j < m; j++) resultBox(dt, dOrder[d0 + j], masks, this.#dtBox, 4 * j);
          boxIouMatrix(
            { dtBox: this.#dtBox, dtStart: 0, m },
            { gtBox: gt.annotationBbox, gtIndex: gOrder, gtStart: g0, n },
            this.#iou,
          );
        } else {
          const gtMask = Array.from({ length: n }, (_, g) => groundTruthMask(gt, gOrder[g0 + g]));
          const dtMask = Array.from({ length: m }, (_, d) => resultMask(dt, dOrder[d0 + d], masks));
          maskIouMatrix(dtMask, gtMask, this.#iou);
        }
      }
      if (mx.dtArea.length < m) mx.dtArea = new Float64Array(2 * m);
      if (mx.gtArea.length < n) {
        (mx.gtArea = new Float64Array(2 * n), mx.gtIgnore = new Uint8Array(2 * n), mx.gtId = new Float64Array(2 * n));
      }
      for (let d = 0; d < m; d++) mx.dtArea[d] = resultArea(dt, area, dOrder[d0 + d]);
      for (let g = 0; g < n; g++) {
        const a = gOrder[g0 + g];
        mx.gtArea[g] = gt.annotationArea[a];
        mx.gtIgnore[g] = gt.annotationIgnore[a];
        mx.gtId[g] = gt.annotationId[a];
      }
      mx.m = m;
      mx.n = n;
      mx.iou = this.#iou;
      mx.notExhaustive = notExhaustive;
      this.#matcher.run(mx, this.#records, d0 - ds, numGt, k * A);
      d0 = d1;
      g0 = g1;
    }
  }

  /** Rank the category's detections by score (stable over image, then in-image order) and fill its curves. */
  #accumulate(k: number, nc: number, state: CategoryOutputs): void {
    const { dt, dtUsed } = this.ctx;
    const ds = dtUsed.catStart[k], dOrder = dtUsed.order;
    if (this.#score.length < nc) {
      this.#score = new Float64Array(2 * nc);
      this.#ranked = new Int32Array(2 * nc);
      this.#rankTmp = new Int32Array(2 * nc);
      this.#runs = new Int32Array(2 * nc + 2);
    }
    const sc = this.#score;
    for (let j = 0; j < nc; j++) sc[j] = dt.score[dOrder[ds + j]];
    _rankByScore(sc, nc, this.#ranked, this.#rankTmp, this.#runs);
    categoryCurves(
      { order: this.#ranked, count: nc, records: this.#records, numGt: state.numGt.subarray(k * A, k * A + A) },
      state.precision,
      k * A * T * R,
      state.recall,
      k * A * T,
      this.#scratch,
    );
  }

  #pool(k: number, ds: number, nc: number, pooled: PooledDetections): void {
    const { dt, dtUsed } = this.ctx;
    const nd = pooled.count, { base, rec, codes } = this.#records;
    let prevImg = -1, r = 0;
    for (let j = 0; j < nc; j++) {
      const i = dtUsed.order[ds + j], p = ds + j;
      r = dt.image[i] === prevImg ? r + 1 : 0;
      prevImg = dt.image[i];
      pooled.score[p] = dt.score[i];
      pooled.image[p] = dt.image[i];
      pooled.category[p] = k;
      pooled.rank[p] = r;
      // Area "all": a match's code where it has one, else the unmatched status.
      const unmatched = base[j] & 1 ? FP : IGNORED, r0 = rec[j] * AT;
      for (let t = 0; t < T; t++) pooled.status[t * nd + p] = (rec[j] >= 0 && codes[r0 + t]) || unmatched;
    }
  }
}
