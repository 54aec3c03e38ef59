// The per-image cap (top scores across categories, ties in file order) and AP-fixed's per-category top-k, both
// applied before any category filtering, as in the reference.
import type { Results } from "./results_file.ts";

export interface Selection {
  keep: Uint8Array;
  keptCount: number;
  /** Index of the result the reference lists first (it decides box vs mask areas). */
  first: number;
}

export function groupBy(key: ArrayLike<number>, n: number, buckets: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(buckets + 1);
  for (let i = 0; i < n; i++) start[key[i] + 1]++;
  for (let b = 0; b < buckets; b++) start[b + 1] += start[b];
  const fill = start.slice(0, buckets);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[key[i]]++] = i;
  return { start, order };
}

export class CapScratch {
  scores = new Float64Array(64);
}

/** Keep the `k` best of `order[s..e)` (or `s..e`; ties in file order), clearing `keep` for the others; returns the best. */
export function capGroup(
  score: Float64Array,
  order: Int32Array | null,
  s: number,
  e: number,
  k: number,
  keep: Uint8Array,
  scratch: CapScratch,
): number {
  const at = (i: number) => (order ? order[i] : i);
  let top = at(s);
  for (let i = s + 1; i < e; i++) if (score[at(i)] > score[top]) top = at(i);
  if (e - s <= k) return top;
  // The k-th best score (native numeric sort), then keep everything above it and, in file order,
  // as many ties as still fit: the same set a stable sort keeps.
  if (scratch.scores.length < e - s) scratch.scores = new Float64Array(2 * (e - s));
  for (let i = s; i < e; i++) scratch.scores[i - s] = -score[at(i)];
  const cut = -scratch.scores.subarray(0, e - s).sort()[k - 1];
  let above = 0;
  for (let i = s; i < e; i++) if (score[at(i)] > cut) above++;
  let ties = k - above;
  for (let i = s; i < e; i++) {
    const v = score[at(i)];
    if (v > cut) continue;
    if (v === cut && ties > 0) ties--;
    else keep[at(i)] = 0;
  }
  return top;
}

function _topPerGroup(
  dt: Results,
  key: ArrayLike<number>,
  buckets: number,
  k: number,
  keep: Uint8Array,
): Int32Array {
  const { start, order } = groupBy(key, dt.count, buckets);
  const best = new Int32Array(buckets).fill(-1);
  const scratch = new CapScratch();
  for (let b = 0; b < buckets; b++) {
    if (start[b + 1] > start[b]) best[b] = capGroup(dt.score, order, start[b], start[b + 1], k, keep, scratch);
  }
  return best;
}

/** The per-image cap where each image's results are one run (as detectors write them); -1 when an image recurs. */
function _capImageRuns(dt: Results, numImages: number, k: number, keep: Uint8Array): number {
  const n = dt.count, image = dt.image;
  const seen = new Uint8Array(numImages);
  let firstBest = -1;
  const scratch = new CapScratch();
  for (let s = 0; s < n;) {
    const img = image[s];
    if (seen[img]) {
      keep.fill(1);
      return -1;
    }
    seen[img] = 1;
    let e = s + 1;
    while (e < n && image[e] === img) e++;
    const best = capGroup(dt.score, null, s, e, k, keep, scratch);
    if (s === 0) firstBest = e > k ? best : 0;
    s = e;
  }
  return firstBest;
}

function _capGrouped(
  dt: Results,
  numImages: number,
  limits: { maxDets: number; detsPerCat: number },
  keep: Uint8Array,
) {
  const n = dt.count;
  // Cap only among survivors: give dropped results a bucket that is never capped.
  const key = new Int32Array(n);
  for (let i = 0; i < n; i++) key[i] = keep[i] ? dt.image[i] : numImages;
  const capKeep = new Uint8Array(n).fill(1);
  const best = _topPerGroup(dt, key, numImages + 1, limits.maxDets, capKeep);
  for (let i = 0; i < n; i++) if (key[i] < numImages) keep[i] &= capKeep[i];
  if (limits.detsPerCat >= 0) return -1;
  const img = dt.image[0];
  let count = 0;
  for (let i = 0; i < n; i++) if (dt.image[i] === img) count++;
  return count > limits.maxDets ? best[img] : 0;
}

/** The per-category top-k (`detsPerCat` >= 0), then the per-image cap (`maxDets` >= 0). */
export function selectResults(
  dt: Results,
  numImages: number,
  numCategories: number,
  limits: { maxDets: number; detsPerCat: number },
): Selection {
  const n = dt.count;
  const keep = new Uint8Array(n).fill(1);
  let first = 0;
  if (limits.detsPerCat >= 0) {
    // Unknown categories (-1) form one group of their own, placed last.
    const key = new Int32Array(n);
    for (let i = 0; i < n; i++) key[i] = dt.category[i] < 0 ? numCategories : dt.category[i];
    const best = _topPerGroup(dt, key, numCategories + 1, limits.detsPerCat, keep);
    first = best[key[0]];
  }
  if (limits.maxDets >= 0 && limits.detsPerCat < 0) {
    first = _capImageRuns(dt, numImages, limits.maxDets, keep);
    if (first < 0) first = _capGrouped(dt, numImages, limits, keep);
  } else if (limits.maxDets >= 0) _capGrouped(dt, numImages, limits, keep);
  let keptCount = 0;
  for (let i = 0; i < n; i++) keptCount += keep[i];
  return { keep, keptCount, first };
}
