// States of disjoint category subsets merge exactly: matching and accumulation never mix categories.
import { InputError } from "../core/errors.ts";
import { emptyCurves, type EvalState, type PooledDetections } from "./eval_state.ts";
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
    ...emptyCurves(K),
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
      out.recall.set(s.recall.subarray(k * A * T, (k + 1) * A * T), k * A * T);
      out.precision.set(s.precision.subarray(k * A * T * R, (k + 1) * A * T * R), k * A * T * R);
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
