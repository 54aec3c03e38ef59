/**
 * Choose tau on held-out data as the decoupling paper does: normalise, predict, score with the LVIS
 * evaluator; the best AP wins (the smallest of equals). The classifier is left as found.
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../../core/atomic.ts";
import { InputError, quote } from "../../core/errors.ts";
import { Rng } from "../../core/rng.ts";
import type { Dataset } from "../../data/dataset.ts";
import { lvisSubset } from "../../data/lvis_subset.ts";
import { lvisEvalFiles } from "../../eval/lvis_eval.ts";
import { predictDataset } from "../predict_dataset.ts";
import type { TrainedModel } from "../trained_model.ts";
import { TAU_RANGE, tauNormalize } from "./tau_norm.ts";

/** One candidate's held-out metrics (fractions, as the evaluator reports them). */
export interface TauTrial {
  tau: number;
  AP: number;
  APr: number;
  APc: number;
  APf: number;
}

export interface ChooseTauOptions {
  /** Candidates, each in [0, 2]. */
  grid: readonly number[];
  /** Image indices of `dataset` to choose on. */
  images: ArrayLike<number>;
  workDir: string;
  batchSize: number;
  shortSide: number;
  maxSize: number;
  workers?: number;
  log?: (line: string) => void;
}

/**
 * `count` annotated images of `dataset`, drawn without replacement from `seed`, in index order.
 *
 * @example
 * ```ts
 * const held = heldOutImages(train, 200, 1);
 * ```
 */
export function heldOutImages(dataset: Dataset, count: number, seed: number): Uint32Array {
  const { images } = dataset;
  const annotated: number[] = [];
  for (let i = 0; i < images.count; i++) if (images.annStart[i + 1] > images.annStart[i]) annotated.push(i);
  const picked = new Rng(seed).shuffle(annotated).slice(0, Math.min(count, annotated.length));
  return Uint32Array.from(picked).sort();
}

/**
 * The tau of `grid` with the best held-out AP, and every candidate's metrics.
 *
 * @example
 * ```ts
 * const model = await loadTrainedModel("runs/bench/stages/train[loss=bce,seed=1]");
 * const { tau, trials } = await chooseTau(model, train, {
 *   grid: [0, 0.5, 1, 1.5, 2], images: heldOutImages(train, 200, 1), workDir: "work",
 *   batchSize: 4, shortSide: 128, maxSize: 1333,
 * });
 * ```
 */
export async function chooseTau(
  model: Pick<TrainedModel, "detector" | "loss" | "card">,
  dataset: Dataset,
  o: ChooseTauOptions,
): Promise<{ tau: number; trials: TauTrial[] }> {
  const bad = o.grid.find((t) => !(t >= TAU_RANGE[0] && t <= TAU_RANGE[1]));
  if (bad !== undefined || o.grid.length === 0) {
    throw new InputError(`Invalid tau grid: expected numbers in [0, 2], got ${quote(bad ?? o.grid)}`);
  }
  if (o.images.length === 0) throw new InputError("Cannot choose tau: the held-out split has no images");
  await Deno.mkdir(o.workDir, { recursive: true });
  const gtPath = join(o.workDir, "held_out_gt.json");
  await writeJsonAtomic(gtPath, lvisSubset(dataset, o.images));
  const det = model.detector;
  const { inDim, columns } = det.classifierParams();
  const original = await det.readClassifier();
  const shape = { inDim, columns, numClasses: model.card.numClasses };
  const trials: TauTrial[] = [];
  try {
    for (const tau of o.grid) {
      det.writeClassifier({ weight: tauNormalize(original.weight, shape, tau), bias: original.bias });
      const rows = await predictDataset(model, dataset, { ...o, images: o.images });
      const dtPath = join(o.workDir, `held_out_tau_${tau}.json`);
      await writeJsonAtomic(dtPath, rows);
      const r = (await lvisEvalFiles(gtPath, dtPath, { iouType: "bbox" })).results;
      trials.push({ tau, AP: r.AP, APr: r.APr, APc: r.APc, APf: r.APf });
      o.log?.(`tau ${tau}: held-out AP ${(100 * r.AP).toFixed(2)}, APr ${(100 * r.APr).toFixed(2)}`);
    }
  } finally {
    det.writeClassifier(original);
  }
  const best = trials.reduce((a, b) => (b.AP > a.AP || (b.AP === a.AP && b.tau < a.tau) ? b : a));
  return { tau: best.tau, trials };
}
