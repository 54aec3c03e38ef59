// Equalization Loss (Tan et al., CVPR 2020): BCE over C columns without the negatives of rare categories
// (f_j < lambda) in foreground rows; frequencies from the training set unless given.
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { weightedBceWgsl } from "../kernels/losses/sigmoid_fused.ts";
import { defineLoss, fraction, lossWeight } from "./loss_definition.ts";
import { sigmoidReference } from "./reference_sigmoid.ts";
import { SigmoidLoss } from "./sigmoid_loss.ts";
import { type SigmoidRule, weightedBce64 } from "./sigmoid_rule.ts";

const params = z.strictObject({
  loss_weight: lossWeight,
  lambda: z.number().gt(0).lt(1).default(0.00177),
  /** f_j per category; or give image_counts and num_images. */
  frequencies: z.array(fraction).optional(),
  image_counts: z.array(z.number().int().min(0)).optional(),
  num_images: z.number().int().positive().optional(),
});
type Params = z.output<typeof params>;

/** EQL's threshold T_j: 1 where f_j < lambda, compared in float32 as the official code does. */
export function eqlRareMask(p: Params, numClasses: number): Float64Array {
  let freq = p.frequencies;
  if (!freq) {
    const { image_counts: counts, num_images: images } = p;
    if (!counts || !images) {
      throw new InputError(`The eql loss needs "frequencies" or "image_counts" with "num_images", got neither`);
    }
    freq = counts.map((c) => c / images);
  }
  if (freq.length !== numClasses) {
    throw new InputError(`Invalid "frequencies" of the eql loss: expected ${numClasses} values, got ${freq.length}`);
  }
  const lambda = Math.fround(p.lambda);
  return Float64Array.from(freq, (f) => Math.fround(f) < lambda ? 1 : 0);
}

function eqlRule(p: Params, numClasses: number): SigmoidRule {
  const c = numClasses;
  return {
    name: "eql",
    numClasses,
    columns: c,
    lossWeight: p.loss_weight,
    columnInputs: { initial: eqlRareMask(p, c) },
    wgsl(width) {
      const { splat, I } = vecTypes(width);
      return {
        setup: `let rare = ${vecTypes(width).gather("P", "jj")};`,
        element: weightedBceWgsl(`1.0 - select(${splat("0.0")}, ${splat("1.0")}, lab < ${I}(${c})) * rare * (1.0 - t)`),
      };
    },
    element64: ({ columnInputs: rare }) => (e) => weightedBce64(e, 1 - (e.label < c ? 1 : 0) * rare[e.j] * (1 - e.t)),
  };
}

export const eql = defineLoss({
  name: "eql",
  params,
  aliases: { lambda_: "lambda", freq_info: "frequencies" },
  fromDataset: {
    keys: ["image_counts", "num_images"],
    complete(raw, stats) {
      if (raw.frequencies !== undefined || raw.freq_info !== undefined || raw.image_counts !== undefined) return raw;
      return { ...raw, image_counts: stats.imageCounts, num_images: Math.max(1, stats.annotatedImages) };
    },
  },
  create: (p, c) => new SigmoidLoss(eqlRule(p, c)),
  reference: (p, c) => sigmoidReference(eqlRule(p, c)),
});
