/** Match predictions to ground truths by IoU as detectron2's `Matcher`: best ground truth, label by IoU band. */

export interface MatchOptions {
  /** Ascending IoU cut points, e.g. [0.3, 0.7]; band k is [t[k-1], t[k]). */
  thresholds: readonly number[];
  /** One label per band, thresholds.length + 1 of them: 1 foreground, 0 background, -1 ignore. */
  labels: readonly number[];
  /**
   * Also label 1 each prediction whose IoU equals some ground truth's highest (ties included), so none goes
   * unmatched; ground truths overlapping nothing are skipped.
   */
  allowLowQuality?: boolean;
}

export interface Match {
  /** Index of the best ground truth (the first on ties); 0 when there is none. */
  matched: Int32Array;
  labels: Int8Array;
  iou: Float32Array;
}

/** Match `nPred` predictions to `nGt` ground truths given their IoU matrix, row-major [nGt, nPred]. */
export function matchBoxes(iou: Float32Array, nGt: number, nPred: number, opts: MatchOptions): Match {
  const { thresholds, labels } = opts;
  if (labels.length !== thresholds.length + 1) {
    throw new Error(`Matcher needs ${thresholds.length + 1} labels for ${thresholds.length} thresholds`);
  }
  const matched = new Int32Array(nPred), best = new Float32Array(nPred);
  const out = new Int8Array(nPred);
  if (nGt === 0) return { matched, labels: out.fill(labels[0]), iou: best };
  best.fill(-Infinity);
  for (let g = 0; g < nGt; g++) {
    const row = g * nPred;
    for (let p = 0; p < nPred; p++) {
      if (iou[row + p] > best[p]) {
        best[p] = iou[row + p];
        matched[p] = g;
      }
    }
  }
  // IoUs are f32; so are the cut points, as when torch compares an f32 tensor with a Python float.
  const cuts = thresholds.map(Math.fround);
  for (let p = 0; p < nPred; p++) {
    let band = 0;
    while (band < cuts.length && best[p] >= cuts[band]) band++;
    out[p] = labels[band];
  }
  if (opts.allowLowQuality) {
    for (let g = 0; g < nGt; g++) {
      const row = g * nPred;
      let top = 0;
      for (let p = 0; p < nPred; p++) top = Math.max(top, iou[row + p]);
      if (top <= 0) continue;
      for (let p = 0; p < nPred; p++) if (iou[row + p] === top) out[p] = 1;
    }
  }
  return { matched, labels: out, iou: best };
}
