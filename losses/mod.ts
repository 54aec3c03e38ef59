/**
 * Long-tail classification losses as fused WGSL kernels, each with a float64 reference, one file each
 * (`registry.ts` lists them). A GPU step computes loss, weights, d loss / d logits and per-category gradient
 * statistics in one pass; `backward(loss)` scales the stored gradient; `state()` / `loadState()` checkpoint.
 *
 * @example Run a fixture step on the GPU and read everything back
 * ```ts
 * import { createLoss } from "./losses/mod.ts";
 * import { initTensors, Tensor } from "./tensor/tensor.ts";
 *
 * await initTensors();
 * const fx = JSON.parse(Deno.readTextFileSync("../shared/fixtures/eqlv2/c8_default_float32.json"));
 * const eqlv2 = createLoss("eqlv2", fx.params, { numClasses: fx.num_classes });
 * for (const step of fx.steps) {
 *   const logits = Tensor.from(step.logits.flat(), [step.labels.length, eqlv2.columns]);
 *   const { loss, grad, weight } = eqlv2.forward(logits, Int32Array.from(step.labels), { weights: true });
 *   console.log(await loss.item(), step.loss); // equal to ~1e-6
 *   console.log(await grad.toF32(), await weight!.toF32(), await eqlv2.state());
 * }
 * const { pos_grad, neg_grad } = await eqlv2.gradStats(); // per category, for the EQL v2 figure
 * ```
 */
export type {
  AllReduceHook,
  ClassificationLoss,
  ForwardOptions,
  GradStats,
  LossState,
  LossStep,
  ReferenceLoss,
  StepInput64,
  StepOutput64,
} from "./loss.ts";
export {
  completeLossParams,
  createLoss,
  lossDefinition,
  LOSSES,
  type LossName,
  lossNames,
  type LossParams,
  lossParamSchemas,
  parseLossParams,
} from "./registry.ts";
export { type DatasetStats, defineLoss, type LossDefinition } from "./loss_definition.ts";
export { SigmoidLoss } from "./sigmoid_loss.ts";
export { SoftmaxLoss } from "./softmax_loss.ts";
export type { SigmoidRule } from "./sigmoid_rule.ts";
export type { SoftmaxRule } from "./softmax_rule.ts";
export { createReferenceLoss } from "./reference_loss.ts";
export { federatedMask } from "./federated_sampler.ts";
export { type BagsGroups, bagsGroups, bagsMasks, type BagsMaskSource, bagsRule } from "./bags.ts";
