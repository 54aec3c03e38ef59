import { A, FREQUENCIES, R, T } from "./params.ts";
import type { EvalState } from "./eval_state.ts";
import { numpySum } from "./numpy_sum.ts";
import { pooledAp } from "./pooled.ts";

export interface CategoryMetrics {
  id: number;
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
  num_gt: [number, number, number, number];
}

export interface EvalSummary {
  /** Metric name -> value, in the reference's order and with its names (-1 = undefined). */
  results: Record<string, number>;
  perCategory: CategoryMetrics[];
  categoriesWithAp: { r: number; c: number; f: number };
}

/** A mean summed as numpy sums the flattened array (buffers of 8192, each pairwise), without flattening it. */
class _OrderedMean {
  buf = new Float64Array(8192);
  fill = 0;
  #sum = 0;
  #count = 0;
  reset(): void {
    this.fill = this.#sum = this.#count = 0;
  }
  flush(): void {
    this.#sum += numpySum(this.buf, 8192);
    this.#count += 8192;
    this.fill = 0;
  }
  mean(): number {
    const n = this.#count + this.fill;
    return n === 0 ? -1 : (this.#sum + numpySum(this.buf, this.fill)) / n;
  }
}

const _mean = new _OrderedMean();
/** Recall points read per category at a time: each category's run of them is contiguous, the order is not. */
const _TILE = 16;
let _tile = new Float64Array(0);

/** The reference's AP over thresholds `ts`, categories `ks` and one area: valid precision in [T][R][K] order. */
function _ap(s: EvalState, ts: readonly number[], ks: Int32Array, area: number): number {
  const valid = ks.filter((k) => s.numGt[k * A + area] > 0), nv = valid.length, P = s.precision;
  if (_tile.length < nv * _TILE) _tile = new Float64Array(nv * _TILE);
  const tile = _tile, m = _mean;
  m.reset();
  for (const t of ts) {
    for (let r0 = 0; r0 < R; r0 += _TILE) {
      const w = Math.min(_TILE, R - r0);
      for (let j = 0; j < nv; j++) {
        const row = ((valid[j] * A + area) * T + t) * R + r0;
        for (let i = 0; i < w; i++) tile[i * nv + j] = P[row + i];
      }
      for (let i = 0; i < w * nv; i++) {
        m.buf[m.fill++] = tile[i];
        if (m.fill === 8192) m.flush();
      }
    }
  }
  return m.mean();
}

/** The reference's AR: valid recall in [T][K] order. */
function _ar(s: EvalState, ts: readonly number[], ks: Int32Array, area: number): number {
  const valid = ks.filter((k) => s.numGt[k * A + area] > 0), m = _mean;
  m.reset();
  for (const t of ts) {
    for (let j = 0; j < valid.length; j++) {
      m.buf[m.fill++] = s.recall[(valid[j] * A + area) * T + t];
      if (m.fill === 8192) m.flush();
    }
  }
  return m.mean();
}

/** One category's AP (`t` = -1: all thresholds) and AR for one area: its own contiguous rows. */
function _categoryAp(s: EvalState, k: number, area: number, t: number): number {
  if (s.numGt[k * A + area] === 0) return -1;
  const row = (k * A + area) * T;
  return t < 0
    ? numpySum(s.precision.subarray(row * R, (row + T) * R)) / (T * R)
    : numpySum(s.precision.subarray((row + t) * R, (row + t + 1) * R)) / R;
}

function _categoryAr(s: EvalState, k: number, area: number): number {
  if (s.numGt[k * A + area] === 0) return -1;
  const row = (k * A + area) * T;
  return numpySum(s.recall.subarray(row, row + T)) / T;
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
  for (let k = 0; k < K; k++) {
    if (!state.evaluated[k]) continue;
    const m: CategoryMetrics = {
      id: state.categoryIds[k],
      frequency: FREQUENCIES[state.frequency[k]],
      AP: _categoryAp(state, k, 0, -1),
      AP50: _categoryAp(state, k, 0, 0),
      AP75: _categoryAp(state, k, 0, 5),
      AR: _categoryAr(state, k, 0),
      APs: _categoryAp(state, k, 1, -1),
      ARs: _categoryAr(state, k, 1),
      APm: _categoryAp(state, k, 2, -1),
      ARm: _categoryAr(state, k, 2),
      APl: _categoryAp(state, k, 3, -1),
      ARl: _categoryAr(state, k, 3),
      num_gt: [0, 1, 2, 3].map((a) => state.numGt[k * A + a]) as CategoryMetrics["num_gt"],
    };
    if (state.categoryNames[k]) m.name = state.categoryNames[k];
    if (m.AP > -1) withAp[FREQUENCIES[state.frequency[k]]]++;
    perCategory.push(m);
  }
  return { results, perCategory, categoriesWithAp: withAp };
}
