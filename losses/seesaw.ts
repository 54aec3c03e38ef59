// Seesaw loss (Wang et al., CVPR 2021) as mmdetection has it: softmax over C classes whose negatives are scaled
// by mitigation (cum_j / cum_label)^p and compensation (p_j / p_label)^q, counts updated before the loss, plus
// a 2-way objectness softmax (C + 2 columns).
import { z } from "zod";
import { f32 } from "../kernels/kernel.ts";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { sigmoidPartsWgsl } from "../kernels/losses/_wgsl.ts";
import { softmaxScoresWgsl } from "../kernels/losses/loss_scores.ts";
import { rowConstant, rowWalk } from "../kernels/losses/softmax_fused.ts";
import { _logSumExp, _softmaxInto } from "./_math.ts";
import { defineLoss, lossWeight } from "./loss_definition.ts";
import { softmaxReference } from "./reference_softmax.ts";
import { SoftmaxLoss } from "./softmax_loss.ts";
import type { SoftmaxRule } from "./softmax_rule.ts";

const params = z.strictObject({
  loss_weight: lossWeight,
  p: z.number().min(0).max(100).default(0.8),
  q: z.number().min(0).max(100).default(2),
  eps: z.number().gt(0).lt(1).default(1e-2),
});
type Params = z.output<typeof params>;

/**
 * WGSL of z_j = x_j + p log(ratio_j) [ratio_j < 1] + q log(comp_j) [comp_j > 1] with log(comp_j) = x_j - lc0
 * (lc0 = m1 + log(s1) + log(self_p)): one exp per element fewer than exp-then-log, and no division.
 */
function seesawZ(p: Params, zero: string, is_t: string): string {
  return `select(x + select(${zero}, ${f32(p.p)} * (lcum - lns), lcum < lns) + select(${zero}, ${
    f32(p.q)
  } * (x - lc0), x > lc0), x, ${is_t})`;
}

/** The row pass: a walk over the classes for (m1, s1), the label's probability and count, then one over z. */
function rowPass(p: Params, c: number): SoftmaxRule["rowPass"] {
  const layout = { columns: c + 2, n: c };
  // Seesaw's z per vec4 of classes: Cum's vec4 q holds the counts of classes 4q .. 4q + 3.
  const z4 = `seesaw_z(x, log(max(Cum[q], vec4<f32>(1.0))), jv == vec4<u32>(labc))`;
  return {
    // The per-row constants reach seesaw_z through module-scope privates, as WGSL functions see no locals.
    decls: `var<private> lns: vec4<f32>;
var<private> lc0: vec4<f32>;
fn seesaw_z(x: vec4<f32>, lcum: vec4<f32>, is_t: vec4<bool>) -> vec4<f32> {
  return ${seesawZ(p, "vec4<f32>(0.0)", "is_t")};
}`,
    body: `let labc = min(lab, ${c - 1}u);
  ${rowWalk(layout, { m: "m1", sum: "s1", so: "so1", f: "x", lab: "labc" })}
  let xl = xs(o + labc);
  let self_p = max(exp(xl - m1) / s1, ${f32(p.eps)});
  let lns_r = log(max(Cum[labc / 4u][labc % 4u], 1.0));
  let lc0_r = m1 + log(s1) + log(self_p);
  lns = vec4<f32>(lns_r);
  lc0 = vec4<f32>(lc0_r);
  ${rowWalk(layout, { m: "m2", sum: "s2", so: "so2", f: z4, lab: "labc" })}
  let d = xs(o + ${c}u) - xs(o + ${c + 1}u);
  ${sigmoidPartsWgsl("d", "0.0")}
  let bg = lab == ${c}u;
  // p - target without cancellation: p_object - 1 = -p_background and p_background - 1 = -p_object.
  let g_obj = select(-sy, sx, bg);
  let g_bg = select(sy, -sx, bg);
  // 2-way cross-entropy = softplus of the other logit minus the target's.
  let obj = max(select(-d, d, bg), 0.0) + sz;
  R[3u * i] = vec4<f32>(lc0_r, lns_r, m2, s2);
  R[3u * i + 1u] = vec4<f32>(so2, u.scale * g_obj, u.scale * g_bg, u.scale * obj);
  // The label's z is its logit.
  R[3u * i + 2u] = vec4<f32>(nll(xl, m2, s2, so2), 0.0, 0.0, 0.0);`,
  };
}

function fusedPass(p: Params, c: number, width: 1 | 4): ReturnType<SoftmaxRule["fusedPass"]> {
  const { I, U, splat, gather } = vecTypes(width);
  const zero = splat("0.0"), one = splat("1.0");
  const field = (h: number, f: string) => rowConstant(c + 2, width, h, f);
  return {
    setup: `let lcum = log(max(${gather("Cum", "jc")}, ${one}));
  let cls_scale = ${f32(p.loss_weight)} / max(Misc[0], 1.0);
  let obj0 = jj == ${U}(${c}u);
  let obj1 = jj == ${U}(${c + 1}u);`,
    body: `let is_pos = labv < ${I}(${c});
    let lc0 = ${field(0, "x")};
    let lns = ${field(0, "y")};
    let m2 = ${field(0, "z")};
    let s2 = ${field(0, "w")};
    let z = ${seesawZ(p, zero, "is_t")};
    let d = select(${zero}, select(exp(z - m2), -${field(1, "x")}, is_t) / s2, is_pos);
    let grad = select(select(cls_scale * d, ${field(1, "y")}, obj0), ${field(1, "z")}, obj1);
    let w = select(select(exp(z - x), ${one}, !is_pos), ${one}, obj0 | obj1);
    let l = select(select(${zero}, cls_scale * ${field(2, "x")}, is_t & is_pos), ${field(1, "w")}, obj0);
    let st = abs(d);`,
  };
}

function seesawRule(p: Params, numClasses: number): SoftmaxRule {
  const c = numClasses, cols = c + 2, lw = p.loss_weight;
  return {
    name: "seesaw",
    numClasses,
    columns: cols,
    lossWeight: lw,
    countsLabels: true,
    takesAvgFactor: false,
    rowStride: 12,
    rowPass: rowPass(p, c),
    fusedPass: (width) => fusedPass(p, c, width),
    scores: {
      columns: c + 1,
      body: softmaxScoresWgsl({
        columns: cols,
        classes: c,
        scoreColumns: c + 1,
        factor: `let o0 = X[i * ${cols}u + ${c}u]; let o1 = X[i * ${cols}u + ${c + 1}u];
  let po = 1.0 / (1.0 + exp(o1 - o0));
  Y[i * ${c + 1}u + ${c}u] = 1.0 - po;`,
      }),
    },
    step64(state, input) {
      const x = input.logits, rows = input.labels.length;
      const grad = new Float64Array(rows * cols), weight = new Float64Array(rows * cols).fill(1);
      const stepPos = new Float64Array(c), stepNeg = new Float64Array(c);
      const prob = new Float64Array(rows * cols);
      for (let i = 0; i < rows; i++) state.cum_samples[input.labels[i]] += 1;
      let numPos = 0;
      for (let i = 0; i < rows; i++) if (input.labels[i] < c) numPos++;
      const z = new Float64Array(c);
      let lossCls = 0, lossObj = 0;
      for (let i = 0; i < rows; i++) {
        const o = i * cols, label = input.labels[i];
        if (label < c) {
          _softmaxInto(x, prob, o, o + c);
          const self = Math.max(prob[o + label], p.eps), nSelf = Math.max(state.cum_samples[label], 1);
          for (let j = 0; j < c; j++) {
            const ratio = Math.max(state.cum_samples[j], 1) / nSelf;
            const mitigation = ratio < 1 ? Math.pow(ratio, p.p) : 1;
            const comp = prob[o + j] / self;
            const compensation = comp > 1 ? Math.pow(comp, p.q) : 1;
            weight[o + j] = j === label ? 1 : mitigation * compensation;
            z[j] = x[o + j] + (j === label ? 0 : Math.log(weight[o + j]));
          }
          const lse = _logSumExp(z, 0, c);
          lossCls += lse - z[label];
          for (let j = 0; j < c; j++) {
            const d = Math.exp(z[j] - lse) - (j === label ? 1 : 0);
            grad[o + j] = lw * d / numPos;
            j === label ? (stepPos[j] += Math.abs(d)) : (stepNeg[j] += Math.abs(d));
          }
        }
        // Objectness: class 0 = object, class 1 = background.
        const objLabel = label === c ? 1 : 0;
        _softmaxInto(x, prob, o + c, o + c + 2);
        lossObj += -Math.log(prob[o + c + objLabel]);
        for (let k = 0; k < 2; k++) {
          grad[o + c + k] = lw * (prob[o + c + k] - (k === objLabel ? 1 : 0)) / rows;
        }
      }
      const loss = lw * ((numPos > 0 ? lossCls / numPos : 0) + lossObj / rows);
      return { loss, grad, weight, step_pos: stepPos, step_neg: stepNeg };
    },
    // softmax(classes) * P(object), then P(background).
    scores64(logits) {
      const rows = logits.length / cols;
      const out = new Float64Array(rows * (c + 1));
      const prob = new Float64Array(logits.length);
      for (let i = 0; i < rows; i++) {
        const o = i * cols;
        _softmaxInto(logits, prob, o, o + c);
        _softmaxInto(logits, prob, o + c, o + c + 2);
        for (let j = 0; j < c; j++) out[i * (c + 1) + j] = prob[o + j] * prob[o + c];
        out[i * (c + 1) + c] = prob[o + c + 1];
      }
      return out;
    },
  };
}

export const seesaw = defineLoss({
  name: "seesaw",
  params,
  create: (p, c) => new SoftmaxLoss(seesawRule(p, c)),
  reference: (p, c) => softmaxReference(seesawRule(p, c)),
});
