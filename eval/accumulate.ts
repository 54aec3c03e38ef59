/**
 * Precision and recall of one ranked detection list (one category, or one
 * pool) at one IoU threshold, exactly as the reference's `accumulate`.
 */
import { EPS, R, RECALL_POINTS } from "./params.ts";

/** Status of a detection at one (area, threshold): false positive, true positive, or ignored. */
export const FP = 0, TP = 1, IGNORED = 2;

/** Scratch space reused across calls. */
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
 * Fill the 101 interpolated precision values and return the final recall.
 *
 * @param status detection statuses; detection `order[i]` is read at `status[offset + order[i]]`
 * @param order detections ranked by score, descending, ties already in reference order
 * @param numGt non-ignored ground truth count (> 0)
 * @param out receives precision at recall point r at `out[outOffset + r * outStride]`
 * @returns recall at the end of the list (0 for an empty list)
 * @example
 * ```ts
 * const p = new Float64Array(101);
 * precisionAtRecall({ status: new Uint8Array([1]), offset: 0, order: new Int32Array([0]), numGt: 1 }, p, 0, 1, new AccumulateScratch());
 * ```
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
