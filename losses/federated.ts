// The federated loss (Zhou et al., 2021, Detic): BCE over C + 1 columns in which only a sampled subset of
// categories gets negatives each step (`federated_sampler.ts`); image counts from the training set unless given.
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { Rng } from "../core/rng.ts";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { weightedBceWgsl } from "../kernels/losses/sigmoid_fused.ts";
import { federatedMask } from "./federated_sampler.ts";
import { defineLoss, lossWeight } from "./loss_definition.ts";
import { sigmoidReference } from "./reference_sigmoid.ts";
import { SigmoidLoss } from "./sigmoid_loss.ts";
import { type ColumnInputs, type SigmoidRule, weightedBce64 } from "./sigmoid_rule.ts";

const params = z.strictObject({
  loss_weight: lossWeight,
  image_counts: z.array(z.number().min(0).finite()),
  num_sample_cats: z.number().int().positive().default(50),
  freq_weight_power: z.number().min(0).max(4).default(0.5),
  seed: z.number().int().min(0).default(0),
});
type Params = z.output<typeof params>;

/** The step's categories as P, from a generator that checkpoints with the loss. */
function sampler(p: Params, numClasses: number): ColumnInputs {
  const weights = Float64Array.from(p.image_counts, (n) => Math.pow(n, p.freq_weight_power));
  let rng = new Rng(p.seed);
  return {
    initial: new Float64Array(numClasses),
    forStep: (labels) => federatedMask({ labels, numClasses, weights, numSample: p.num_sample_cats, rng }),
    state: () => ({ rng: Array.from(rng.state) }),
    loadState(state) {
      if (state.rng) rng = new Rng(Uint32Array.from(state.rng));
    },
  };
}

function federatedRule(p: Params, numClasses: number): SigmoidRule {
  const c = numClasses;
  if (p.image_counts.length !== c) {
    throw new InputError(
      `Invalid "image_counts" of the federated loss: expected ${c} values, got ${p.image_counts.length}`,
    );
  }
  return {
    name: "federated",
    numClasses,
    columns: c + 1,
    lossWeight: p.loss_weight,
    columnInputs: sampler(p, c),
    wgsl: (width) => {
      const { splat, gather } = vecTypes(width);
      return {
        setup: `let mask = select(${splat("0.0")}, ${gather("P", "jc")}, real);`,
        element: weightedBceWgsl("mask"),
      };
    },
    element64: ({ columnInputs: mask }) => (e) => weightedBce64(e, e.j < c ? mask[e.j] : 0),
  };
}

export const federated = defineLoss({
  name: "federated",
  params,
  fromDataset: {
    keys: ["image_counts"],
    complete: (raw, stats) => raw.image_counts === undefined ? { ...raw, image_counts: stats.imageCounts } : raw,
  },
  create: (p, c) => new SigmoidLoss(federatedRule(p, c)),
  reference: (p, c) => sigmoidReference(federatedRule(p, c)),
});
