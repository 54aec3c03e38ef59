// Greedy matching exactly as the reference's `evaluate_img`, but only over ground truth with IoU >= 0.5 (the
// others never match nor change where the scan stops), recording only what differs from the unmatched status.
import { IGNORED, TP } from "./accumulate.ts";
import { A, AREA_RANGES, AT, IOU_THRESHOLDS, T } from "./params.ts";

const _MAX_THR = 1 - 1e-10;
const _MIN_THR = Math.min(IOU_THRESHOLDS[0], _MAX_THR);

export interface MatchInput {
  m: number;
  n: number;
  /** IoU of detection d and ground truth g at `iou[d * n + g]`. */
  iou: Float64Array;
  dtArea: Float64Array;
  gtArea: Float64Array;
  gtIgnore: Uint8Array;
  gtId: Float64Array;
  /** The category is in the image's `not_exhaustive_category_ids`. */
  notExhaustive: boolean;
}

/**
 * Matching's outcome for one category's detections, sparse: most detections match nothing at any threshold,
 * and their status at area a is fixed by `base`; the few with a candidate get a record of `AT` codes
 * (0: unmatched, so `base` decides; TP; IGNORED) at `codes[rec * AT + a * T + t]`.
 */
export class MatchRecords {
  /** Per detection: bit a set when it counts as a false positive at area a if unmatched. */
  base = new Uint8Array(64);
  rec = new Int32Array(64);
  codes = new Uint8Array(64 * AT);
  count = 0;

  reset(n: number): void {
    if (this.base.length < n) (this.base = new Uint8Array(2 * n), this.rec = new Int32Array(2 * n));
    this.count = 0;
  }

  add(): number {
    if ((this.count + 1) * AT > this.codes.length) {
      const grown = new Uint8Array(2 * (this.count + 1) * AT);
      grown.set(this.codes.subarray(0, this.count * AT));
      this.codes = grown;
    } else this.codes.fill(0, this.count * AT, (this.count + 1) * AT);
    return this.count++;
  }
}

/** Bit a set where an unmatched detection of area `ar` is a false positive: the area ranges that hold it. */
export function unmatchedFalsePositive(ar: number): number {
  let bits = 0;
  for (let a = 0; a < A; a++) if (!(ar < _LO[a] || ar > _HI[a])) bits |= 1 << a;
  return bits;
}

const _LO = Float64Array.from(AREA_RANGES, (r) => r[0]), _HI = Float64Array.from(AREA_RANGES, (r) => r[1]);

export class Matcher {
  #candStart = new Int32Array(65);
  #cand = new Int32Array(256);
  #ordered = new Int32Array(256);
  #gtIg = new Uint8Array(64);
  #taken = new Uint8Array(64);
  #withCand = new Int32Array(64);

  /** Match one image's detections (`offset .. offset + m - 1` in `out`); adds non-ignored ground truth to `numGt`. */
  run(x: MatchInput, out: MatchRecords, offset: number, numGt: Int32Array, numGtOffset: number): void {
    const { m, n, iou } = x;
    if (this.#candStart.length < m + 1) this.#candStart = new Int32Array(2 * m + 2);
    if (this.#gtIg.length < n) (this.#gtIg = new Uint8Array(2 * n), this.#taken = new Uint8Array(2 * n));
    const candStart = this.#candStart, gtIg = this.#gtIg, taken = this.#taken;
    // The unmatched status per area does not depend on the threshold.
    for (let d = 0; d < m; d++) {
      out.base[offset + d] = x.notExhaustive ? 0 : unmatchedFalsePositive(x.dtArea[d]);
      out.rec[offset + d] = -1;
    }
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
    if (this.#withCand.length < m) this.#withCand = new Int32Array(2 * m);
    const withCand = this.#withCand;
    let nWithCand = 0;
    for (let d = 0; d < m; d++) {
      if (candStart[d + 1] > candStart[d]) (withCand[nWithCand++] = d, out.rec[offset + d] = out.add());
    }

    for (let a = 0; a < A; a++) {
      const lo = _LO[a], hi = _HI[a];
      let kept = 0;
      for (let g = 0; g < n; g++) {
        const ar = x.gtArea[g];
        gtIg[g] = x.gtIgnore[g] || ar < lo || ar > hi ? 1 : 0;
        kept += 1 - gtIg[g];
      }
      numGt[numGtOffset + a] += kept;
      if (nWithCand === 0) continue;
      // Candidates in the reference's ground-truth order: non-ignored first, stable.
      for (let w = 0; w < nWithCand; w++) {
        const d = withCand[w];
        let q = candStart[d];
        for (let c = candStart[d]; c < candStart[d + 1]; c++) if (!gtIg[cand[c]]) ordered[q++] = cand[c];
        for (let c = candStart[d]; c < candStart[d + 1]; c++) if (gtIg[cand[c]]) ordered[q++] = cand[c];
      }
      for (let t = 0; t < T; t++) {
        for (let g = 0; g < n; g++) taken[g] = 0;
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
          const code = gtIg[mi] ? IGNORED : x.gtId[mi] !== 0 ? TP : 0;
          out.codes[out.rec[offset + d] * AT + a * T + t] = code;
        }
      }
    }
  }
}
