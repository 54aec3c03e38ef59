// Equalized Focal Loss (Li et al., CVPR 2022): focal loss with gamma_j = gamma_b + s (1 - g_j), scaled by
// gamma_j / gamma_b; g_j = positive / negative gradient clamped to [0, 1], from the logits' actual gradient
// (normaliser included), as the official code's backward hook does.
import { z } from "zod";
import { f32 } from "../kernels/kernel.ts";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { focal64, focalElementWgsl } from "./focal.ts";
import { defineLoss, fraction, lossWeight } from "./loss_definition.ts";
import { sigmoidReference } from "./reference_sigmoid.ts";
import { SigmoidLoss } from "./sigmoid_loss.ts";
import type { SigmoidRule } from "./sigmoid_rule.ts";

const params = z.strictObject({
  loss_weight: lossWeight,
  gamma_b: z.number().gt(0).max(20).default(2),
  alpha: fraction.default(0.25),
  s: z.number().min(0).max(100).default(8),
});

function eflRule(p: z.output<typeof params>, numClasses: number): SigmoidRule {
  const c = numClasses, gb = p.gamma_b;
  return {
    name: "efl",
    numClasses,
    columns: c,
    lossWeight: p.loss_weight,
    initialRatio: 1,
    clampRatio: true,
    wgsl: (width) => ({
      setup: `let gj = ${f32(gb)} + ${f32(p.s)} * (1.0 - ${vecTypes(width).gather("S", `(${2 * c}u + jc)`)});
  let wf = gj / ${f32(gb)};`,
      element: focalElementWgsl(p.alpha, width, "abs(g) * u.scale"),
    }),
    element64: ({ ratio, scale }) => (e) => {
      const gamma = e.j < c ? gb + p.s * (1 - ratio[e.j]) : gb;
      return focal64(e, { alpha: p.alpha, gamma, wf: gamma / gb, statScale: scale });
    },
  };
}

export const efl = defineLoss({
  name: "efl",
  params,
  create: (p, c) => new SigmoidLoss(eflRule(p, c)),
  reference: (p, c) => sigmoidReference(eflRule(p, c)),
});
