// AP-pooled (Dave et al. 2021): per pool (all, r, c, f), rank all its categories' detections together (image-major,
// then category, stable by score) against the pool's summed ground truth.
import { InputError } from "../core/errors.ts";
import { AccumulateScratch, precisionAtRecall } from "./accumulate.ts";
import type { EvalState } from "./eval_state.ts";
import { validMean } from "./numpy_sum.ts";
import { A, R, T } from "./params.ts";

/**
 * AP-pooled-{all,r,c,f} of a state evaluated with `pooled: true`.
 *
 * @returns the four values keyed as the reference names them (-1 when a pool has no ground truth)
 * @example
 * ```ts
 * pooledAp(evaluate(gt, dt, { maxDets: -1, detsPerCat: 10000, pooled: true }))["AP-pooled-all"];
 * ```
 */
export function pooledAp(state: EvalState): Record<string, number> {
  const p = state.pooled;
  if (!p) throw new InputError("Cannot compute AP-pooled: the evaluation was run without pooled detections");
  const K = state.categoryIds.length;
  const out: Record<string, number> = {};
  const scratch = new AccumulateScratch();
  const pools: [string, (k: number) => boolean][] = [
    ["all", () => true],
    ["r", (k) => state.frequency[k] === 0],
    ["c", (k) => state.frequency[k] === 1],
    ["f", (k) => state.frequency[k] === 2],
  ];
  for (const [name, inPool] of pools) {
    let numGt = 0, present = false;
    for (let k = 0; k < K; k++) {
      if (!inPool(k)) continue;
      numGt += state.numGt[k * A];
      present ||= state.present[k] === 1;
    }
    if (!present || numGt === 0) {
      out[`AP-pooled-${name}`] = -1;
      continue;
    }
    const members: number[] = [];
    for (let i = 0; i < p.count; i++) if (inPool(p.category[i])) members.push(i);
    const { score, image, category, rank } = p;
    members.sort((x, y) =>
      score[y] - score[x] || image[x] - image[y] || category[x] - category[y] || rank[x] - rank[y]
    );
    const order = Int32Array.from(members);
    const precision = new Float64Array(T * R);
    for (let t = 0; t < T; t++) {
      precisionAtRecall({ status: p.status, offset: t * p.count, order, numGt }, precision, t * R, 1, scratch);
    }
    out[`AP-pooled-${name}`] = validMean(precision);
  }
  return out;
}
