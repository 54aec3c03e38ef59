/**
 * Split evaluation: states of disjoint category subsets (from other processes
 * or machines) merge into exactly the single-process state, since matching
 * and accumulation never mix categories (AP-pooled re-ranks the merged
 * detections).
 */
import { InputError } from "../core/errors.ts";
import type { EvalState, PooledDetections } from "./eval_state.ts";
import { A, R, T } from "./params.ts";

/**
 * Merge states that cover disjoint category subsets.
 *
 * @param states from `evaluate` with different `categoryIds`, same files and options
 * @returns one state covering the union
 * @throws InputError when the states disagree on setup or overlap
 * @example
 * ```ts
 * const ids = Array.from(gt.categoryIds);
 * const halves = [ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 2 === 1)];
 * const merged = mergeStates(halves.map((categoryIds) => evaluate(gt, dt, { categoryIds })));
 * ```
 */
export function mergeStates(states: EvalState[]): EvalState {
  if (states.length === 0) throw new InputError("Cannot merge: no partial evaluations given");
  const first = states[0];
  const K = first.categoryIds.length;
  const out: EvalState = {
    ...first,
    evaluated: new Uint8Array(K),
    precision: new Float64Array(T * R * K * A).fill(-1),
    recall: new Float64Array(T * K * A).fill(-1),
    numGt: new Int32Array(K * A),
    present: new Uint8Array(K),
    counts: { ...first.counts, gtUsed: 0, dtUsed: 0 },
    pooled: null,
  };
  for (const [si, s] of states.entries()) {
    const same = s.iouType === first.iouType && s.maxDets === first.maxDets && s.detsPerCat === first.detsPerCat &&
      s.categoryIds.length === K && s.categoryIds.every((id, k) => id === first.categoryIds[k]) &&
      s.counts.dtInFile === first.counts.dtInFile && s.counts.images === first.counts.images;
    if (!same) throw new InputError(`Cannot merge partial ${si}: it was evaluated with other files or options`);
    for (let k = 0; k < K; k++) {
      if (!s.evaluated[k]) continue;
      if (out.evaluated[k]) {
        throw new InputError(`Cannot merge partial ${si}: category ${s.categoryIds[k]} is also in an earlier one`);
      }
      out.evaluated[k] = 1;
      out.present[k] = s.present[k];
      for (let a = 0; a < A; a++) out.numGt[k * A + a] = s.numGt[k * A + a];
      for (let t = 0; t < T; t++) {
        for (let a = 0; a < A; a++) out.recall[(t * K + k) * A + a] = s.recall[(t * K + k) * A + a];
        for (let r = 0; r < R; r++) {
          for (let a = 0; a < A; a++) {
            const at = ((t * R + r) * K + k) * A + a;
            out.precision[at] = s.precision[at];
          }
        }
      }
    }
    out.counts.gtUsed += s.counts.gtUsed;
    out.counts.dtUsed += s.counts.dtUsed;
  }
  if (states.every((s) => s.pooled)) out.pooled = _concatPooled(states.map((s) => s.pooled!));
  return out;
}

function _concatPooled(parts: PooledDetections[]): PooledDetections {
  const n = parts.reduce((s, p) => s + p.count, 0);
  const out: PooledDetections = {
    count: n,
    score: new Float64Array(n),
    image: new Int32Array(n),
    category: new Int32Array(n),
    rank: new Int32Array(n),
    status: new Uint8Array(T * n),
  };
  let at = 0;
  for (const p of parts) {
    out.score.set(p.score, at);
    out.image.set(p.image, at);
    out.category.set(p.category, at);
    out.rank.set(p.rank, at);
    for (let t = 0; t < T; t++) out.status.set(p.status.subarray(t * p.count, (t + 1) * p.count), t * n + at);
    at += p.count;
  }
  return out;
}
