// Float64 reference of the sigmoid family; the state update follows /work/shared/specs/long-tail-losses.md.
import { _bce, _sigmoid } from "./_math.ts";
import type { ReferenceLoss, StepInput64, StepOutput64 } from "./loss.ts";
import type { SigmoidRule } from "./sigmoid_rule.ts";

/** Per-category state (length C): accumulated |gradient| of positives and negatives, and their ratio. */
export interface LossStats64 {
  pos_grad: Float64Array;
  neg_grad: Float64Array;
  ratio: Float64Array;
}

/** The float64 reference of a sigmoid-family loss; `step` updates `state` in place. */
export function sigmoidReference(rule: SigmoidRule): ReferenceLoss & { state: LossStats64 } {
  const c = rule.numClasses;
  const state: LossStats64 = {
    pos_grad: new Float64Array(c),
    neg_grad: new Float64Array(c),
    ratio: new Float64Array(c).fill(rule.initialRatio ?? 0),
  };
  let columnInputs: ArrayLike<number> = rule.columnInputs?.initial ?? new Float64Array(c);
  return {
    columns: rule.columns,
    state,
    step(input) {
      if (rule.columnInputs?.forStep) columnInputs = rule.columnInputs.forStep(input.labels);
      return sigmoidReferenceStep(rule, state, input, columnInputs);
    },
    scores: (logits) => sigmoidReferenceScores(rule, logits),
  };
}

function sigmoidReferenceStep(
  rule: SigmoidRule,
  state: LossStats64,
  input: StepInput64,
  columnInputs: ArrayLike<number>,
): StepOutput64 {
  const { columns: cols, numClasses: c } = rule;
  const rows = input.labels.length;
  const grad = new Float64Array(rows * cols), weight = new Float64Array(rows * cols);
  const stepPos = new Float64Array(c), stepNeg = new Float64Array(c);
  const scale = rule.lossWeight / (input.avgFactor ?? rows);
  const element = rule.element64({ ratio: state.ratio, columnInputs, scale });
  let loss = 0;
  for (let i = 0; i < rows; i++) {
    const label = input.labels[i];
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      const x = input.logits[k], t = label === j ? 1 : 0;
      const p = _sigmoid(x);
      const { w, l, g, stat } = element({ x, t, j, label, bce: _bce(x, t), p, d: p - t });
      loss += l;
      grad[k] = scale * g;
      weight[k] = w;
      if (j < c) t ? (stepPos[j] += stat) : (stepNeg[j] += stat);
    }
  }
  for (let j = 0; j < c; j++) {
    state.pos_grad[j] += stepPos[j];
    state.neg_grad[j] += stepNeg[j];
    const r = state.pos_grad[j] / (state.neg_grad[j] + 1e-10);
    state.ratio[j] = rule.clampRatio ? Math.min(1, Math.max(0, r)) : r;
  }
  return { loss: scale * loss, grad, weight, step_pos: stepPos, step_neg: stepNeg };
}

/** Test-time scores [rows, columns]: sigmoid, or with EQL v2's objectness s_j = sigma(x_j) (1 - sigma(x_C)). */
function sigmoidReferenceScores(rule: SigmoidRule, logits: ArrayLike<number>): Float64Array {
  const cols = rule.columns, rows = logits.length / cols;
  const out = Float64Array.from(logits, _sigmoid);
  if (rule.scoresWithObj) {
    for (let i = 0; i < rows; i++) {
      const fg = 1 - out[i * cols + rule.numClasses];
      for (let j = 0; j < rule.numClasses; j++) out[i * cols + j] *= fg;
    }
  }
  return out;
}
