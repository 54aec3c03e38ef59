// Binary cross-entropy on sigmoid logits, the baseline.
import { z } from "zod";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { weightedBceWgsl } from "../kernels/losses/sigmoid_fused.ts";
import { defineLoss, lossWeight } from "./loss_definition.ts";
import { sigmoidReference } from "./reference_sigmoid.ts";
import { SigmoidLoss } from "./sigmoid_loss.ts";
import { type SigmoidRule, weightedBce64 } from "./sigmoid_rule.ts";

const params = z.strictObject({
  loss_weight: lossWeight,
  /** Logits have C+1 columns (label C is a target 1 in column C); false: C columns, background all-zero. */
  background_channel: z.boolean().default(true),
});

function bceRule(p: z.output<typeof params>, numClasses: number): SigmoidRule {
  return {
    name: "bce",
    numClasses,
    columns: p.background_channel ? numClasses + 1 : numClasses,
    lossWeight: p.loss_weight,
    wgsl: (width) => ({ setup: "", element: weightedBceWgsl(vecTypes(width).splat("1.0")) }),
    element64: () => (e) => weightedBce64(e, 1),
  };
}

export const bce = defineLoss({
  name: "bce",
  params,
  create: (p, c) => new SigmoidLoss(bceRule(p, c)),
  reference: (p, c) => sigmoidReference(bceRule(p, c)),
});
