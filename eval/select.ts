/**
 * Which results take part: the per-image cap (top scores across categories,
 * ties in file order) and the per-category top-k of AP-fixed, both applied
 * before any category filtering, as in the reference.
 */
import type { Results } from "./results_file.ts";

/** The kept results and the one the reference would see first. */
export interface Selection {
  /** 1 where the result is kept. */
  keep: Uint8Array;
  keptCount: number;
  /** Index of the result the reference lists first (it decides box vs mask areas). */
  first: number;
}

/** Group indices 0..n-1 by `key` (0..buckets-1), keeping file order inside a group. */
export function groupBy(key: ArrayLike<number>, n: number, buckets: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(buckets + 1);
  for (let i = 0; i < n; i++) start[key[i] + 1]++;
  for (let b = 0; b < buckets; b++) start[b + 1] += start[b];
  const fill = start.slice(0, buckets);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[key[i]]++] = i;
  return { start, order };
}

/** Keep the `k` best of each group (score descending, ties in file order); returns the best one per group. */
function _topPerGroup(
  dt: Results,
  key: ArrayLike<number>,
  buckets: number,
  k: number,
  keep: Uint8Array,
): Int32Array {
  const { start, order } = groupBy(key, dt.count, buckets);
  const best = new Int32Array(buckets).fill(-1);
  const score = dt.score;
  let scores = new Float64Array(64);
  for (let b = 0; b < buckets; b++) {
    const s = start[b], e = start[b + 1];
    if (e === s) continue;
    let top = order[s];
    for (let i = s + 1; i < e; i++) if (score[order[i]] > score[top]) top = order[i];
    best[b] = top;
    if (e - s <= k) continue;
    // The k-th best score (native numeric sort), then keep everything above it and, in file order,
    // as many ties as still fit: the same set a stable sort keeps.
    if (scores.length < e - s) scores = new Float64Array(2 * (e - s));
    for (let i = s; i < e; i++) scores[i - s] = -score[order[i]];
    const sorted = scores.subarray(0, e - s).sort();
    const cut = -sorted[k - 1];
    let above = 0;
    for (let i = s; i < e; i++) if (score[order[i]] > cut) above++;
    let ties = k - above;
    for (let i = s; i < e; i++) {
      const v = score[order[i]];
      if (v > cut) continue;
      if (v === cut && ties > 0) ties--;
      else keep[order[i]] = 0;
    }
  }
  return best;
}

/**
 * Apply the per-category top-k (when `detsPerCat` >= 0) and then the per-image cap (when `maxDets` >= 0).
 *
 * @example
 * ```ts
 * const { keep } = selectResults(dt, gt.imageIds.length, gt.categoryIds.length, { maxDets: 300, detsPerCat: -1 });
 * ```
 */
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
  if (limits.maxDets >= 0) {
    // Cap only among survivors: give dropped results a bucket that is never capped.
    const key = new Int32Array(n);
    for (let i = 0; i < n; i++) key[i] = keep[i] ? dt.image[i] : numImages;
    const capKeep = new Uint8Array(n).fill(1);
    const best = _topPerGroup(dt, key, numImages + 1, limits.maxDets, capKeep);
    for (let i = 0; i < n; i++) if (key[i] < numImages) keep[i] &= capKeep[i];
    if (limits.detsPerCat < 0) {
      const img = dt.image[0];
      let count = 0;
      for (let i = 0; i < n; i++) if (dt.image[i] === img) count++;
      first = count > limits.maxDets ? best[img] : 0;
    }
  }
  let keptCount = 0;
  for (let i = 0; i < n; i++) keptCount += keep[i];
  return { keep, keptCount, first };
}
