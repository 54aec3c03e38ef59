/**
 * The float64 reference of any registered loss behind one interface, with
 * the same parameters and the same federated sampling sequence as the GPU
 * loss: what tests and debugging compare the kernels against.
 */
import { Rng } from "../core/rng.ts";
import { federatedMask } from "./federated_sampler.ts";
import { type LossName, type LossParams, parseLossParams } from "./params.ts";
import {
  initialStats64,
  type LossStats64,
  sigmoidReferenceScores,
  sigmoidReferenceStep,
  type StepOutput64,
} from "./reference_sigmoid.ts";
import {
  initialSoftmaxState64,
  softmaxConfig,
  softmaxReferenceScores,
  softmaxReferenceStep,
  type SoftmaxState64,
} from "./reference_softmax.ts";
import { sigmoidConfig, type SigmoidKind } from "./sigmoid_config.ts";

export interface ReferenceLoss {
  readonly columns: number;
  readonly state: LossStats64 | SoftmaxState64;
  step(input: { logits: ArrayLike<number>; labels: ArrayLike<number>; avgFactor?: number }): StepOutput64;
  scores(logits: ArrayLike<number>): Float64Array;
}

/**
 * @example
 * ```ts
 * const ref = createReferenceLoss("eqlv2", {}, { numClasses: 8 });
 * const { loss, grad } = ref.step({ logits, labels });
 * ```
 */
export function createReferenceLoss(name: LossName, raw: unknown, opts: { numClasses: number }): ReferenceLoss {
  const c = opts.numClasses;
  if (name === "ce" || name === "seesaw") {
    const cfg = softmaxConfig(name, parseLossParams(name, raw), c);
    const state = initialSoftmaxState64(cfg);
    return {
      columns: cfg.columns,
      state,
      step: (input) => softmaxReferenceStep(cfg, state, input),
      scores: (logits) => softmaxReferenceScores(cfg, logits),
    };
  }
  const params = parseLossParams(name, raw) as LossParams<SigmoidKind>;
  const cfg = sigmoidConfig(name, params, c);
  const state = initialStats64(cfg);
  const fed = name === "federated" ? params as LossParams<"federated"> : null;
  const rng = new Rng(fed?.seed ?? 0);
  const weights = fed ? fed.image_counts.map((n) => Math.pow(n, fed.freq_weight_power)) : [];
  return {
    columns: cfg.columns,
    state,
    step(input) {
      const columnMask = fed
        ? federatedMask({ labels: input.labels, numClasses: c, weights, numSample: fed.num_sample_cats, rng })
        : undefined;
      return sigmoidReferenceStep(cfg, state, { ...input, columnMask });
    },
    scores: (logits) => sigmoidReferenceScores(cfg, logits),
  };
}
