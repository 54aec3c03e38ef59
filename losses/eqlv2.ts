// Equalization Loss v2 (Tan et al., CVPR 2021): with r_j the accumulated positive / negative gradient ratio,
// negatives weighted by f(r) = 1 / (1 + exp(-gamma (r - mu))), positives by 1 + alpha (1 - f(r)). C + 1 columns.
import { z } from "zod";
import { f32 } from "../kernels/kernel.ts";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { weightedBceWgsl } from "../kernels/losses/sigmoid_fused.ts";
import { defineLoss, lossWeight } from "./loss_definition.ts";
import { sigmoidReference } from "./reference_sigmoid.ts";
import { SigmoidLoss } from "./sigmoid_loss.ts";
import { type SigmoidRule, weightedBce64 } from "./sigmoid_rule.ts";

const params = z.strictObject({
  loss_weight: lossWeight,
  gamma: z.number().min(0).max(1000).default(12),
  mu: z.number().finite().default(0.8),
  alpha: z.number().min(0).max(1e6).default(4),
  test_with_obj: z.boolean().default(true),
});
type Params = z.output<typeof params>;

/** Per-column (positive, negative) weights from the ratio before the step; the background column's are 1. */
export function eqlv2ChannelWeights(
  p: Pick<Params, "gamma" | "mu" | "alpha">,
  numClasses: number,
  ratio: ArrayLike<number>,
): { pos: Float64Array; neg: Float64Array } {
  const pos = new Float64Array(numClasses + 1).fill(1), neg = new Float64Array(numClasses + 1).fill(1);
  for (let j = 0; j < numClasses; j++) {
    neg[j] = 1 / (1 + Math.exp(-p.gamma * (ratio[j] - p.mu)));
    pos[j] = 1 + p.alpha * (1 - neg[j]);
  }
  return { pos, neg };
}

function eqlv2Rule(p: Params, numClasses: number): SigmoidRule {
  const c = numClasses;
  return {
    name: "eqlv2",
    numClasses,
    columns: c + 1,
    lossWeight: p.loss_weight,
    initialRatio: 100,
    scoresWithObj: p.test_with_obj,
    wgsl(width) {
      const { splat, gather } = vecTypes(width);
      // The weights from the state before the step, once per column.
      const setup = `let nw = select(${splat("1.0")}, 1.0 / (1.0 + exp(${f32(-p.gamma)} * (${
        gather("S", `(${2 * c}u + jc)`)
      } - ${f32(p.mu)}))), real);
  let pw = select(${splat("1.0")}, 1.0 + ${f32(p.alpha)} * (1.0 - nw), real);`;
      return { setup, element: weightedBceWgsl("select(nw, pw, is_t)") };
    },
    element64({ ratio }) {
      const { pos, neg } = eqlv2ChannelWeights(p, c, ratio);
      return (e) => weightedBce64(e, e.t ? pos[e.j] : neg[e.j]);
    },
  };
}

export const eqlv2 = defineLoss({
  name: "eqlv2",
  params,
  create: (p, c) => new SigmoidLoss(eqlv2Rule(p, c)),
  reference: (p, c) => sigmoidReference(eqlv2Rule(p, c)),
});
