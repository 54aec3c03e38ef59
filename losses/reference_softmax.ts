import type { ReferenceLoss } from "./loss.ts";
import type { SoftmaxRule, SoftmaxState64 } from "./softmax_rule.ts";

/** The float64 reference of a softmax-family loss; `step` updates `state` in place. */
export function softmaxReference(rule: SoftmaxRule): ReferenceLoss & { state: SoftmaxState64 } {
  const c = rule.numClasses;
  const state: SoftmaxState64 = {
    pos_grad: new Float64Array(c),
    neg_grad: new Float64Array(c),
    cum_samples: new Float64Array(c + 1),
  };
  return {
    columns: rule.columns,
    state,
    step(input) {
      const out = rule.step64(state, input);
      for (let j = 0; j < c; j++) {
        state.pos_grad[j] += out.step_pos[j];
        state.neg_grad[j] += out.step_neg[j];
      }
      return out;
    },
    scores: (logits) => rule.scores64(logits),
  };
}
