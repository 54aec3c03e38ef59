/** RPN objectness over all anchors, weighted 0 where unsampled, so no gather of sampled anchors is needed. */
import { f32 } from "../kernels/kernel.ts";
import { record } from "../tensor/autograd.ts";
import { mapRaw, sum } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";

const BCE = "(max(x0, 0.0) - x0 * x1 + log(1.0 + exp(-abs(x0))))";

/** sum(w * BCE(x, t)) / norm for logits x and targets t in {0, 1}. */
export function weightedSigmoidBce(logits: Tensor, targets: Tensor, weights: Tensor, norm: number): Tensor {
  const inv = f32(1 / Math.max(norm, 1));
  const elem = mapRaw(`x2 * ${BCE} * ${inv}`, [logits, targets, weights], logits.shape);
  const out = sum(elem);
  return record(out, "weightedSigmoidBce", [logits], (g) => [
    mapRaw(`x0 * x2 * (1.0 / (1.0 + exp(-x1)) - x3) * ${inv}`, [g, logits, weights, targets], logits.shape),
  ]);
}
