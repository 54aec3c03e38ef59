// Precision and recall of one ranked detection list at one IoU threshold, exactly as the reference's `accumulate`.
import type { MatchRecords } from "./match.ts";
import { A, AT, EPS, R, RECALL_POINTS, T } from "./params.ts";

/** Status of a detection at one (area, threshold): false positive, true positive, or ignored. */
export const FP = 0, TP = 1, IGNORED = 2;

export class AccumulateScratch {
  pr = new Float64Array(1024);
  rc = new Float64Array(1024);
  ensure(n: number): void {
    if (this.pr.length < n) {
      this.pr = new Float64Array(n * 2);
      this.rc = new Float64Array(n * 2);
    }
  }
}

/**
 * Fill the 101 interpolated precision values at `out[outOffset + r * outStride]` and return the final recall;
 * `order` ranks detections by score, ties already in reference order; `numGt` > 0.
 */
export function precisionAtRecall(
  list: { status: Uint8Array; offset: number; order: Int32Array; numGt: number },
  out: Float64Array,
  outOffset: number,
  outStride: number,
  scratch: AccumulateScratch,
): number {
  const { status, offset, order, numGt } = list;
  const n = order.length;
  scratch.ensure(n + 1);
  // Interpolated precision is a suffix maximum, and the recall points always land on a true positive
  // (or on the first detection), so only those positions need precision: same doubles, less work.
  const pr = scratch.pr, rc = scratch.rc;
  let tp = 0, fp = 0, m = 0;
  for (let i = 0; i < n; i++) {
    const s = status[offset + order[i]];
    if (s === TP) {
      tp++;
      rc[m] = tp / numGt;
      pr[m++] = tp / (fp + tp + EPS);
    } else if (s === FP) fp++;
  }
  for (let i = m - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
  if (n === 0) {
    for (let r = 0; r < R; r++) out[outOffset + r * outStride] = 0;
    return 0;
  }
  // Recall point 0 lands on the first detection, whose precision is 0 unless it is the first true positive.
  out[outOffset] = m > 0 ? pr[0] : 0;
  let j = 0;
  for (let r = 1; r < R; r++) {
    const point = RECALL_POINTS[r];
    while (j < m && rc[j] < point) j++;
    out[outOffset + r * outStride] = j < m ? pr[j] : 0;
  }
  return m > 0 ? rc[m - 1] : 0;
}

export class CurveScratch {
  seg = new Int32Array(A * T);
  tp = new Int32Array(A * T);
  overridden = new Int32Array(A * T);
  fpBase = new Int32Array(A);
  pr = new Float64Array(1024);
  rc = new Float64Array(1024);
}

/**
 * One category's precision and recall at every (area, threshold) in one walk over its ranked detections: a
 * detection's false-positive count is the unmatched false positives ranked before it less those overridden by a
 * match, so only true positives need work per threshold. `precision` must hold zeros: only entries before the
 * last recall point reached are written.
 */
export function categoryCurves(
  input: { order: Int32Array; count: number; records: MatchRecords; numGt: Int32Array },
  precision: Float64Array,
  precisionOffset: number,
  recall: Float64Array,
  recallOffset: number,
  scratch: CurveScratch,
): void {
  const { order, count: n, numGt } = input;
  const { base, rec, codes } = input.records;
  const { seg, tp, overridden, fpBase } = scratch;
  let total = 0;
  for (let a = 0; a < A; a++) {
    for (let t = 0; t < T; t++) (seg[a * T + t] = total, total += numGt[a]);
  }
  if (scratch.pr.length < total) (scratch.pr = new Float64Array(2 * total), scratch.rc = new Float64Array(2 * total));
  const pr = scratch.pr, rc = scratch.rc;
  tp.fill(0);
  overridden.fill(0);
  fpBase.fill(0);
  for (let p = 0; p < n; p++) {
    const j = order[p], bits = base[j], r = rec[j];
    if (r >= 0) {
      for (let a = 0; a < A; a++) {
        const ng = numGt[a];
        if (ng === 0) continue;
        const fpBit = (bits >> a) & 1;
        for (let t = 0; t < T; t++) {
          const code = codes[r * AT + a * T + t];
          if (code === 0) continue;
          const s = a * T + t;
          if (code === TP) {
            const k = ++tp[s], fp = fpBase[a] - overridden[s], at = seg[s] + k - 1;
            rc[at] = k / ng;
            pr[at] = k / (fp + k + EPS);
          }
          overridden[s] += fpBit;
        }
      }
    }
    if (bits) { for (let a = 0; a < A; a++) fpBase[a] += (bits >> a) & 1; }
  }
  for (let a = 0; a < A; a++) {
    if (numGt[a] === 0) continue;
    for (let t = 0; t < T; t++) {
      const s = a * T + t, m = tp[s], at = seg[s];
      recall[recallOffset + s] = m > 0 ? rc[at + m - 1] : 0;
      // Zeros (no true positive, recall points past the last one) are already there: untouched pages of
      // fresh memory cost nothing.
      if (m > 0) _precisionRow(pr, rc, at, m, precision, precisionOffset + s * R);
    }
  }
}

/** A function of its own, so the JIT sees it run whole before optimizing it. */
function _precisionRow(pr: Float64Array, rc: Float64Array, at: number, m: number, out: Float64Array, o: number) {
  for (let i = m - 1; i > 0; i--) if (pr[at + i] > pr[at + i - 1]) pr[at + i - 1] = pr[at + i];
  out[o] = pr[at];
  for (let q = 1, i = 0; q < R; q++) {
    const point = RECALL_POINTS[q];
    while (i < m && rc[at + i] < point) i++;
    if (i === m) break;
    out[o + q] = pr[at + i];
  }
}
