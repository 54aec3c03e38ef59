/**
 * RoI sampling for the box head (detectron2 `label_and_sample_proposals`): ground truths join the
 * proposals, IoU >= 0.5 is foreground (else label C), and a seeded draw caps the foreground share.
 */
import type { Rng } from "../core/rng.ts";
import { type Boxes, type CoderWeights, encodeBoxes, pairwiseIou } from "./boxes.ts";
import { matchBoxes } from "./matcher.ts";

/**
 * Draw at most `batchSize` items: up to `positiveFraction` from `isPositive`, the rest from
 * `isNegative`, each a uniform random subset in random order. Returns [positives, negatives] indices.
 */
export function subsample(
  n: number,
  isPositive: (i: number) => boolean,
  isNegative: (i: number) => boolean,
  opts: { batchSize: number; positiveFraction: number; rng: Rng },
): [number[], number[]] {
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < n; i++) {
    if (isPositive(i)) pos.push(i);
    else if (isNegative(i)) neg.push(i);
  }
  const numPos = Math.min(pos.length, Math.floor(opts.batchSize * opts.positiveFraction));
  const numNeg = Math.min(neg.length, opts.batchSize - numPos);
  return [_pick(pos, numPos, opts.rng), _pick(neg, numNeg, opts.rng)];
}

/** A uniform random k-subset of `items` in random order (partial Fisher-Yates). */
function _pick(items: number[], k: number, rng: Rng): number[] {
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(items.length - i);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items.slice(0, k);
}

export interface SampleRoisOptions {
  /** Proposal boxes (x1, y1, x2, y2), e.g. the RPN's post-NMS top-k. */
  proposals: Boxes;
  gtBoxes: Boxes;
  /** Class of each ground truth, in [0, numClasses). */
  gtClasses: ArrayLike<number>;
  numClasses: number;
  rng: Rng;
  batchSize?: number;
  /** Largest foreground share; default 0.25. */
  positiveFraction?: number;
  /** Foreground IoU; default 0.5. */
  iouThreshold?: number;
  /** Add the ground truths to the proposals; default true. */
  appendGt?: boolean;
  /** Box coder weights of the regression targets; default (10, 10, 5, 5). */
  weights?: CoderWeights;
}

/** The sampled RoIs of one image: foreground first, then background. */
export interface SampledRois {
  boxes: Float32Array;
  /** [S] class of each foreground RoI, `numClasses` for background. */
  labels: Int32Array;
  /** [S] matched ground truth of each foreground RoI, -1 for background. */
  matchedGt: Int32Array;
  /** [S * 4] regression targets of foreground RoIs (zeros for background). */
  deltas: Float32Array;
  /** Number of foreground RoIs (the first ones). */
  numForeground: number;
}

export function sampleRois(opts: SampleRoisOptions): SampledRois {
  const { gtBoxes, gtClasses, numClasses, rng } = opts;
  const nGt = gtBoxes.length >> 2;
  if (gtClasses.length !== nGt) {
    throw new Error(`sampleRois got ${nGt} ground-truth boxes and ${gtClasses.length} classes`);
  }
  const all = new Float32Array(opts.proposals.length + (opts.appendGt === false ? 0 : gtBoxes.length));
  all.set(Array.from(opts.proposals));
  if (opts.appendGt !== false) all.set(Array.from(gtBoxes), opts.proposals.length);
  const n = all.length >> 2;
  const match = matchBoxes(pairwiseIou(gtBoxes, all), nGt, n, {
    thresholds: [opts.iouThreshold ?? 0.5],
    labels: [0, 1],
  });
  const fg = (i: number) => nGt > 0 && match.labels[i] === 1;
  const [pos, neg] = subsample(n, fg, (i) => !fg(i), {
    batchSize: opts.batchSize ?? 512,
    positiveFraction: opts.positiveFraction ?? 0.25,
    rng,
  });
  const picked = [...pos, ...neg];
  const boxes = new Float32Array(picked.length * 4), target = new Float32Array(pos.length * 4);
  const labels = new Int32Array(picked.length).fill(numClasses), matchedGt = new Int32Array(picked.length).fill(-1);
  picked.forEach((i, k) => {
    boxes.set(all.subarray(4 * i, 4 * i + 4), 4 * k);
    if (k >= pos.length) return;
    const g = match.matched[i];
    labels[k] = gtClasses[g];
    matchedGt[k] = g;
    target.set([gtBoxes[4 * g], gtBoxes[4 * g + 1], gtBoxes[4 * g + 2], gtBoxes[4 * g + 3]], 4 * k);
  });
  const deltas = new Float32Array(picked.length * 4);
  deltas.set(encodeBoxes(boxes.subarray(0, 4 * pos.length), target, opts.weights ?? [10, 10, 5, 5]));
  return { boxes, labels, matchedGt, deltas, numForeground: pos.length };
}
