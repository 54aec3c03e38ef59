// Detic's recipe: the batch's labels, topped up by drawing without replacement with probability image_count^power.
import type { Rng } from "../core/rng.ts";

/**
 * A 0/1 mask over the C categories whose negatives count this step.
 *
 * @example
 * ```ts
 * federatedMask({ labels: [3, 3, 10], numClasses: 10, weights: [...], numSample: 50, rng: new Rng(1) });
 * ```
 */
export function federatedMask(opts: {
  labels: ArrayLike<number>;
  numClasses: number;
  weights: ArrayLike<number>;
  numSample: number;
  rng: Rng;
}): Float64Array {
  const { labels, numClasses: c, weights, numSample, rng } = opts;
  const mask = new Float64Array(c);
  // The background label counts towards the total as in the reference, but is never a column.
  const appeared = new Set<number>();
  for (let i = 0; i < labels.length; i++) appeared.add(labels[i]);
  for (const l of appeared) if (l < c) mask[l] = 1;
  const prob = Float64Array.from({ length: c }, (_, j) => mask[j] ? 0 : weights[j]);
  let total = prob.reduce((a, b) => a + b, 0);
  for (let k = appeared.size; k < numSample && total > 0; k++) {
    let u = rng.float() * total, pick = -1;
    for (let j = 0; j < c; j++) {
      if (prob[j] <= 0) continue;
      pick = j;
      u -= prob[j];
      if (u < 0) break;
    }
    mask[pick] = 1;
    total -= prob[pick];
    prob[pick] = 0;
    // Recompute now and then: repeated subtraction drifts.
    if (k % 16 === 15) total = prob.reduce((a, b) => a + b, 0);
  }
  return mask;
}
