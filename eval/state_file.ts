// A partial evaluation on disk, for category shards merged later; shortest round-trip JSON numbers read back identical.
import { readFile } from "node:fs/promises";
import { InputError } from "../core/errors.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import { emptyCurves, type EvalState, precisionAt, recallAt } from "./eval_state.ts";
import { A, R, T } from "./params.ts";

const _FORMAT = "tailor-lvis-partial/1";

/**
 * Write the categories a state covers.
 *
 * @example
 * ```ts
 * await writeState("/tmp/part0.json", evaluate(gt, dt, { categoryIds: [1, 2, 3] }));
 * ```
 */
export async function writeState(path: string, s: EvalState): Promise<void> {
  const K = s.categoryIds.length;
  const cats: unknown[] = [];
  for (let k = 0; k < K; k++) {
    if (!s.evaluated[k]) continue;
    const precision: number[] = [], recall: number[] = [];
    for (let t = 0; t < T; t++) {
      for (let a = 0; a < A; a++) recall.push(recallAt(s, t, k, a));
      for (let r = 0; r < R; r++) for (let a = 0; a < A; a++) precision.push(precisionAt(s, t, r, k, a));
    }
    cats.push({ k, present: s.present[k], num_gt: Array.from(s.numGt.subarray(k * A, k * A + A)), precision, recall });
  }
  const p = s.pooled;
  await writeJsonAtomic(path, {
    format: _FORMAT,
    iou_type: s.iouType,
    max_dets: s.maxDets,
    dets_per_cat: s.detsPerCat,
    category_ids: Array.from(s.categoryIds),
    frequency: Array.from(s.frequency),
    category_names: s.categoryNames,
    counts: s.counts,
    categories: cats,
    pooled: p && {
      score: Array.from(p.score),
      image: Array.from(p.image),
      category: Array.from(p.category),
      rank: Array.from(p.rank),
      status: Array.from(p.status),
    },
  });
}

/**
 * Read a state written by `writeState`.
 *
 * @example
 * ```ts
 * const merged = mergeStates(await Promise.all(["/tmp/part0.json", "/tmp/part1.json"].map(readState)));
 * ```
 */
export async function readState(path: string): Promise<EvalState> {
  let d;
  try {
    d = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new InputError(`Cannot read partial evaluation ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  if (d?.format !== _FORMAT) {
    throw new InputError(`Cannot read partial evaluation ${JSON.stringify(path)}: "format" is not ${_FORMAT}`);
  }
  const K = d.category_ids.length;
  const s: EvalState = {
    iouType: d.iou_type,
    maxDets: d.max_dets,
    detsPerCat: d.dets_per_cat,
    categoryIds: Float64Array.from(d.category_ids),
    frequency: Uint8Array.from(d.frequency),
    categoryNames: d.category_names ?? [],
    evaluated: new Uint8Array(K),
    ...emptyCurves(K),
    numGt: new Int32Array(K * A),
    present: new Uint8Array(K),
    pooled: null,
    counts: d.counts,
  };
  for (const c of d.categories) {
    const k = c.k;
    s.evaluated[k] = 1;
    s.present[k] = c.present;
    s.numGt.set(c.num_gt, k * A);
    let i = 0, j = 0;
    for (let t = 0; t < T; t++) {
      // Rows without ground truth stay unwritten, as in a state evaluated here.
      for (let a = 0; a < A; a++, j++) if (s.numGt[k * A + a] > 0) s.recall[(k * A + a) * T + t] = c.recall[j];
      for (let r = 0; r < R; r++) {
        for (let a = 0; a < A; a++, i++) {
          if (s.numGt[k * A + a] > 0) s.precision[((k * A + a) * T + t) * R + r] = c.precision[i];
        }
      }
    }
  }
  if (d.pooled) {
    const p = d.pooled;
    s.pooled = {
      count: p.score.length,
      score: Float64Array.from(p.score),
      image: Int32Array.from(p.image),
      category: Int32Array.from(p.category),
      rank: Int32Array.from(p.rank),
      status: Uint8Array.from(p.status),
    };
  }
  return s;
}
