// Softmax cross-entropy over C + 1 columns, background last: the softmax baseline.
import { z } from "zod";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { softmaxScoresWgsl } from "../kernels/losses/loss_scores.ts";
import { rowConstant, rowWalk } from "../kernels/losses/softmax_fused.ts";
import { _softmaxInto } from "./_math.ts";
import { defineLoss, lossWeight } from "./loss_definition.ts";
import { softmaxReference } from "./reference_softmax.ts";
import { SoftmaxLoss } from "./softmax_loss.ts";
import type { SoftmaxRule } from "./softmax_rule.ts";

const params = z.strictObject({ loss_weight: lossWeight });

function ceRule(p: z.output<typeof params>, numClasses: number): SoftmaxRule {
  const c = numClasses, cols = c + 1, lw = p.loss_weight;
  return {
    name: "ce",
    numClasses,
    columns: cols,
    lossWeight: lw,
    countsLabels: false,
    takesAvgFactor: true,
    // The row's (max m, sum s, sum without the label so, loss).
    rowStride: 4,
    rowPass: {
      decls: "",
      body: `${rowWalk({ columns: cols, n: cols }, { m: "m", sum: "s", so: "so", f: "x", lab: "lab" })}
  R[i] = vec4<f32>(m, s, so, nll(xs(o + lab), m, s, so));`,
    },
    fusedPass(width) {
      const { splat } = vecTypes(width);
      const field = (f: string) => rowConstant(cols, width, 0, f);
      return {
        setup: "",
        body: `let m = ${field("x")};
    let s = ${field("y")};
    // p_j - t_j; at the label, -(sum of the others) / s.
    let d = select(exp(x - m), -${field("z")}, is_t) / s;
    let grad = u.scale * d;
    let w = ${splat("1.0")};
    let l = select(${splat("0.0")}, u.scale * ${field("w")}, is_t);
    let st = abs(d);`,
      };
    },
    scores: {
      columns: cols,
      body: softmaxScoresWgsl({ columns: cols, classes: cols, scoreColumns: cols, factor: "let po = 1.0;" }),
    },
    step64(_state, input) {
      const x = input.logits, rows = input.labels.length, avg = input.avgFactor ?? rows;
      const grad = new Float64Array(rows * cols), weight = new Float64Array(rows * cols).fill(1);
      const stepPos = new Float64Array(c), stepNeg = new Float64Array(c);
      const prob = new Float64Array(rows * cols);
      let loss = 0;
      for (let i = 0; i < rows; i++) {
        const o = i * cols, label = input.labels[i];
        _softmaxInto(x, prob, o, o + cols);
        loss += -Math.log(prob[o + label]);
        for (let j = 0; j < cols; j++) {
          const d = prob[o + j] - (j === label ? 1 : 0);
          grad[o + j] = lw * d / avg;
          if (j < c) j === label ? (stepPos[j] += Math.abs(d)) : (stepNeg[j] += Math.abs(d));
        }
      }
      return { loss: lw * loss / avg, grad, weight, step_pos: stepPos, step_neg: stepNeg };
    },
    scores64(logits) {
      const out = new Float64Array(logits.length);
      for (let o = 0; o < logits.length; o += cols) _softmaxInto(logits, out, o, o + cols);
      return out;
    },
  };
}

export const ce = defineLoss({
  name: "ce",
  params,
  create: (p, c) => new SoftmaxLoss(ceRule(p, c)),
  reference: (p, c) => softmaxReference(ceRule(p, c)),
});
