/**
 * Greedy matching of one category's detections and ground truth on one image,
 * for every area range and IoU threshold, exactly as the reference's
 * `evaluate_img`, but only over ground truth with IoU >= 0.5 (the others can
 * never match, and skipping them never changes where the scan stops).
 */
import { FP, IGNORED, TP } from "./accumulate.ts";
import { A, AREA_RANGES, IOU_THRESHOLDS, T } from "./params.ts";

const _MAX_THR = 1 - 1e-10;
const _MIN_THR = Math.min(IOU_THRESHOLDS[0], _MAX_THR);

/** One (category, image) to match: detections in score order, ground truth in file order. */
export interface MatchInput {
  /** Number of detections and ground truth. */
  m: number;
  n: number;
  /** IoU of detection d and ground truth g at `iou[d * n + g]`. */
  iou: Float64Array;
  /** Detection areas (result area field). */
  dtArea: Float64Array;
  /** Ground truth `area` fields, `ignore` flags and ids. */
  gtArea: Float64Array;
  gtIgnore: Uint8Array;
  gtId: Float64Array;
  /** The category is in the image's `not_exhaustive_category_ids`. */
  notExhaustive: boolean;
}

/** Reusable matcher; writes statuses and counts non-ignored ground truth per area. */
export class Matcher {
  #candStart = new Int32Array(65);
  #cand = new Int32Array(256);
  #ordered = new Int32Array(256);
  #gtIg = new Uint8Array(64);
  #taken = new Uint8Array(64);
  #withCand = new Int32Array(64);
  #noMatch = new Uint8Array(64);

  /**
   * Match and write `status[(a * T + t) * stride + offset + d]`.
   *
   * @returns nothing; adds each area's non-ignored ground truth count to `numGt[numGtOffset + a]`
   */
  run(x: MatchInput, status: Uint8Array, offset: number, stride: number, numGt: Int32Array, numGtOffset: number): void {
    const { m, n, iou } = x;
    if (this.#candStart.length < m + 1) this.#candStart = new Int32Array(2 * m + 2);
    if (this.#gtIg.length < n) (this.#gtIg = new Uint8Array(2 * n), this.#taken = new Uint8Array(2 * n));
    const candStart = this.#candStart, gtIg = this.#gtIg, taken = this.#taken;
    // Candidates: ground truth a detection could ever match.
    let total = 0;
    for (let d = 0; d < m; d++) for (let g = 0; g < n; g++) if (iou[d * n + g] >= _MIN_THR) total++;
    if (this.#cand.length < total) (this.#cand = new Int32Array(2 * total), this.#ordered = new Int32Array(2 * total));
    const cand = this.#cand, ordered = this.#ordered;
    let p = 0;
    for (let d = 0; d < m; d++) {
      candStart[d] = p;
      for (let g = 0; g < n; g++) if (iou[d * n + g] >= _MIN_THR) cand[p++] = g;
    }
    candStart[m] = p;
    if (this.#withCand.length < m) (this.#withCand = new Int32Array(2 * m), this.#noMatch = new Uint8Array(2 * m));
    const withCand = this.#withCand, noMatch = this.#noMatch;
    let nWithCand = 0;
    for (let d = 0; d < m; d++) if (candStart[d + 1] > candStart[d]) withCand[nWithCand++] = d;

    for (let a = 0; a < A; a++) {
      const [lo, hi] = AREA_RANGES[a];
      let kept = 0;
      for (let g = 0; g < n; g++) {
        const ar = x.gtArea[g];
        gtIg[g] = x.gtIgnore[g] || ar < lo || ar > hi ? 1 : 0;
        kept += 1 - gtIg[g];
      }
      numGt[numGtOffset + a] += kept;
      // Candidates in the reference's ground-truth order: non-ignored first, stable.
      for (let w = 0; w < nWithCand; w++) {
        const d = withCand[w];
        let q = candStart[d];
        for (let c = candStart[d]; c < candStart[d + 1]; c++) if (!gtIg[cand[c]]) ordered[q++] = cand[c];
        for (let c = candStart[d]; c < candStart[d + 1]; c++) if (gtIg[cand[c]]) ordered[q++] = cand[c];
      }
      // Unmatched status per detection: it does not depend on the threshold.
      for (let d = 0; d < m; d++) {
        const ar = x.dtArea[d];
        noMatch[d] = ar < lo || ar > hi || x.notExhaustive ? IGNORED : FP;
      }
      for (let t = 0; t < T; t++) {
        const base = (a * T + t) * stride + offset;
        for (let d = 0; d < m; d++) status[base + d] = noMatch[d];
        if (nWithCand === 0) continue;
        taken.fill(0, 0, n);
        const thr = Math.min(IOU_THRESHOLDS[t], _MAX_THR);
        for (let w = 0; w < nWithCand; w++) {
          const d = withCand[w];
          let best = thr, mi = -1;
          for (let c = candStart[d]; c < candStart[d + 1]; c++) {
            const g = ordered[c];
            if (taken[g]) continue;
            if (mi > -1 && !gtIg[mi] && gtIg[g]) break;
            const v = iou[d * n + g];
            if (v < best) continue;
            best = v;
            mi = g;
          }
          if (mi === -1) continue;
          taken[mi] = 1;
          // The reference records the matched id and tests it as non-zero: id 0 counts as unmatched.
          if (gtIg[mi]) status[base + d] = IGNORED;
          else if (x.gtId[mi] !== 0) status[base + d] = TP;
        }
      }
    }
  }
}
