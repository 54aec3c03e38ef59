/**
 * Summary metrics from an evaluated state: the reference's 13 numbers (or the
 * AP-fixed names), per-category AP/AR, and AP-pooled when asked.
 */
import { A, FREQUENCIES, R, T } from "./params.ts";
import type { EvalState } from "./eval_state.ts";
import { numpySum, validMean } from "./numpy_sum.ts";
import { pooledAp } from "./pooled.ts";

/** Per-category numbers, as the fixtures' `per_category` entries. */
export interface CategoryMetrics {
  id: number;
  /** Present when the ground truth names the category. */
  name?: string;
  frequency: string;
  AP: number;
  AP50: number;
  AP75: number;
  AR: number;
  APs: number;
  ARs: number;
  APm: number;
  ARm: number;
  APl: number;
  ARl: number;
  /** Non-ignored ground truth for all/small/medium/large. */
  num_gt: [number, number, number, number];
}

/** What `summarize` returns. */
export interface EvalSummary {
  /** Metric name -> value, in the reference's order and with its names (-1 = undefined). */
  results: Record<string, number>;
  perCategory: CategoryMetrics[];
  /** Categories with a valid AP per frequency group. */
  categoriesWithAp: { r: number; c: number; f: number };
}

/** Mean of the valid precision values over the given thresholds, categories and one area. */
function _ap(s: EvalState, ts: readonly number[], ks: Int32Array, area: number): number {
  const K = s.categoryIds.length;
  const v = new Float64Array(ts.length * R * ks.length);
  let p = 0;
  for (let ti = 0; ti < ts.length; ti++) {
    for (let r = 0; r < R; r++) {
      const row = (ts[ti] * R + r) * K;
      for (let j = 0; j < ks.length; j++) {
        const x = s.precision[(row + ks[j]) * A + area];
        if (x > -1) v[p++] = x;
      }
    }
  }
  return p === 0 ? -1 : numpySum(v, p) / p;
}

function _ar(s: EvalState, ts: readonly number[], ks: Int32Array, area: number): number {
  const K = s.categoryIds.length;
  const v = new Float64Array(ts.length * ks.length);
  let p = 0;
  for (let ti = 0; ti < ts.length; ti++) {
    for (let j = 0; j < ks.length; j++) v[p++] = s.recall[(ts[ti] * K + ks[j]) * A + area];
  }
  return validMean(v);
}

const _ALL_T = Array.from({ length: T }, (_, t) => t);

/**
 * Summarise an evaluated state.
 *
 * @param state from `evaluate` or `mergeStates`
 * @param options `pooled`: add AP-pooled-{all,r,c,f} (needs a state evaluated with `pooled`)
 * @returns metrics keyed by the reference's names, per-category values and group counts
 * @example
 * ```ts
 * const { results } = summarize(evaluate(gt, dt));
 * console.log(results["AP"], results["AR@300"]);
 * ```
 */
export function summarize(state: EvalState, options: { pooled?: boolean } = {}): EvalSummary {
  const K = state.categoryIds.length;
  const all = Int32Array.from({ length: K }, (_, k) => k);
  const groups = FREQUENCIES.map((_, f) => all.filter((k) => state.frequency[k] === f));
  const md = state.maxDets;
  const results: Record<string, number> = {
    AP: _ap(state, _ALL_T, all, 0),
    AP50: _ap(state, [0], all, 0),
    AP75: _ap(state, [5], all, 0),
    APs: _ap(state, _ALL_T, all, 1),
    APm: _ap(state, _ALL_T, all, 2),
    APl: _ap(state, _ALL_T, all, 3),
    APr: _ap(state, _ALL_T, groups[0], 0),
    APc: _ap(state, _ALL_T, groups[1], 0),
    APf: _ap(state, _ALL_T, groups[2], 0),
    [`AR@${md}`]: _ar(state, _ALL_T, all, 0),
    [`ARs@${md}`]: _ar(state, _ALL_T, all, 1),
    [`ARm@${md}`]: _ar(state, _ALL_T, all, 2),
    [`ARl@${md}`]: _ar(state, _ALL_T, all, 3),
  };
  if (options.pooled) Object.assign(results, pooledAp(state));
  const perCategory: CategoryMetrics[] = [];
  const withAp = { r: 0, c: 0, f: 0 };
  const one = new Int32Array(1);
  for (let k = 0; k < K; k++) {
    if (!state.evaluated[k]) continue;
    one[0] = k;
    const m: CategoryMetrics = {
      id: state.categoryIds[k],
      frequency: FREQUENCIES[state.frequency[k]],
      AP: _ap(state, _ALL_T, one, 0),
      AP50: _ap(state, [0], one, 0),
      AP75: _ap(state, [5], one, 0),
      AR: _ar(state, _ALL_T, one, 0),
      APs: _ap(state, _ALL_T, one, 1),
      ARs: _ar(state, _ALL_T, one, 1),
      APm: _ap(state, _ALL_T, one, 2),
      ARm: _ar(state, _ALL_T, one, 2),
      APl: _ap(state, _ALL_T, one, 3),
      ARl: _ar(state, _ALL_T, one, 3),
      num_gt: [0, 1, 2, 3].map((a) => state.numGt[k * A + a]) as CategoryMetrics["num_gt"],
    };
    if (state.categoryNames[k]) m.name = state.categoryNames[k];
    if (m.AP > -1) withAp[FREQUENCIES[state.frequency[k]]]++;
    perCategory.push(m);
  }
  return { results, perCategory, categoriesWithAp: withAp };
}
