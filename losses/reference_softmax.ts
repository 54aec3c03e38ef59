/**
 * Float64 reference of the softmax losses: cross-entropy over C+1 columns,
 * and mmdetection's Seesaw loss over C class columns plus a 2-way
 * objectness softmax (C+2 columns), with cumulative class counts updated
 * before the loss.
 */
import { InputError, quote } from "../core/errors.ts";
import { _logSumExp } from "./_math.ts";
import type { LossParams } from "./params.ts";
import type { StepOutput64 } from "./reference_sigmoid.ts";

export interface SoftmaxConfig {
  kind: "ce" | "seesaw";
  numClasses: number;
  /** C + 1 for ce, C + 2 for seesaw. */
  columns: number;
  lossWeight: number;
  p: number;
  q: number;
  eps: number;
}

/** Build the config of a softmax-family loss. */
export function softmaxConfig(
  kind: "ce" | "seesaw",
  params: LossParams<"ce" | "seesaw">,
  numClasses: number,
): SoftmaxConfig {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new InputError(
      `Invalid number of classes for the ${kind} loss: expected an integer >= 1, got ${quote(numClasses)}`,
    );
  }
  const s = kind === "seesaw" ? params as LossParams<"seesaw"> : { p: 0, q: 0, eps: 1e-2 };
  return {
    kind,
    numClasses,
    columns: numClasses + (kind === "ce" ? 1 : 2),
    lossWeight: params.loss_weight,
    p: s.p,
    q: s.q,
    eps: s.eps,
  };
}

/** Softmax-family state: per-category |gradient| sums (length C) and Seesaw's cumulative counts (length C + 1). */
export interface SoftmaxState64 {
  pos_grad: Float64Array;
  neg_grad: Float64Array;
  cum_samples: Float64Array;
}

export function initialSoftmaxState64(cfg: SoftmaxConfig): SoftmaxState64 {
  const c = cfg.numClasses;
  return { pos_grad: new Float64Array(c), neg_grad: new Float64Array(c), cum_samples: new Float64Array(c + 1) };
}

/** Softmax of `v[from..to)` written to `out` at the same offsets. */
function softmaxInto(v: ArrayLike<number>, out: Float64Array, from: number, to: number): void {
  const lse = _logSumExp(v, from, to);
  for (let k = from; k < to; k++) out[k] = Math.exp(v[k] - lse);
}

/**
 * One step; updates `state` in place. CE: loss = lw sum_i (lse_i - x_i,label) / avgFactor (default N).
 * Seesaw: classes part averaged over foreground rows, objectness part over all rows.
 *
 * @example
 * ```ts
 * const cfg = { kind: "ce", numClasses: 2, columns: 3, lossWeight: 1, p: 0, q: 0, eps: 0 } as const;
 * softmaxReferenceStep(cfg, initialSoftmaxState64(cfg), { logits: [0, 0, 0], labels: [2] }).loss; // log 3
 * ```
 */
export function softmaxReferenceStep(
  cfg: SoftmaxConfig,
  state: SoftmaxState64,
  input: { logits: ArrayLike<number>; labels: ArrayLike<number>; avgFactor?: number },
): StepOutput64 {
  const { columns: cols, numClasses: c } = cfg;
  const x = input.logits, rows = input.labels.length;
  const grad = new Float64Array(rows * cols), weight = new Float64Array(rows * cols).fill(1);
  const stepPos = new Float64Array(c), stepNeg = new Float64Array(c);
  const prob = new Float64Array(rows * cols);
  let loss = 0;
  if (cfg.kind === "ce") {
    const avg = input.avgFactor ?? rows;
    for (let i = 0; i < rows; i++) {
      const o = i * cols, label = input.labels[i];
      softmaxInto(x, prob, o, o + cols);
      loss += -Math.log(prob[o + label]);
      for (let j = 0; j < cols; j++) {
        const d = prob[o + j] - (j === label ? 1 : 0);
        grad[o + j] = cfg.lossWeight * d / avg;
        if (j < c) j === label ? (stepPos[j] += Math.abs(d)) : (stepNeg[j] += Math.abs(d));
      }
    }
    loss = cfg.lossWeight * loss / avg;
  } else {
    for (let i = 0; i < rows; i++) state.cum_samples[input.labels[i]] += 1;
    let numPos = 0;
    for (let i = 0; i < rows; i++) if (input.labels[i] < c) numPos++;
    const z = new Float64Array(c);
    let lossCls = 0, lossObj = 0;
    for (let i = 0; i < rows; i++) {
      const o = i * cols, label = input.labels[i];
      if (label < c) {
        softmaxInto(x, prob, o, o + c);
        const self = Math.max(prob[o + label], cfg.eps), nSelf = Math.max(state.cum_samples[label], 1);
        for (let j = 0; j < c; j++) {
          const ratio = Math.max(state.cum_samples[j], 1) / nSelf;
          const mitigation = ratio < 1 ? Math.pow(ratio, cfg.p) : 1;
          const comp = prob[o + j] / self;
          const compensation = comp > 1 ? Math.pow(comp, cfg.q) : 1;
          weight[o + j] = j === label ? 1 : mitigation * compensation;
          z[j] = x[o + j] + (j === label ? 0 : Math.log(weight[o + j]));
        }
        const lse = _logSumExp(z, 0, c);
        lossCls += lse - z[label];
        for (let j = 0; j < c; j++) {
          const d = Math.exp(z[j] - lse) - (j === label ? 1 : 0);
          grad[o + j] = cfg.lossWeight * d / numPos;
          j === label ? (stepPos[j] += Math.abs(d)) : (stepNeg[j] += Math.abs(d));
        }
      }
      // Objectness: class 0 = object, class 1 = background.
      const objLabel = label === c ? 1 : 0;
      softmaxInto(x, prob, o + c, o + c + 2);
      lossObj += -Math.log(prob[o + c + objLabel]);
      for (let k = 0; k < 2; k++) {
        grad[o + c + k] = cfg.lossWeight * (prob[o + c + k] - (k === objLabel ? 1 : 0)) / rows;
      }
    }
    loss = cfg.lossWeight * ((numPos > 0 ? lossCls / numPos : 0) + lossObj / rows);
  }
  for (let j = 0; j < c; j++) {
    state.pos_grad[j] += stepPos[j];
    state.neg_grad[j] += stepNeg[j];
  }
  return { loss, grad, weight, step_pos: stepPos, step_neg: stepNeg };
}

/** Scores [rows, C + 1]: softmax (ce); for Seesaw softmax(classes) * P(object), then P(background). */
export function softmaxReferenceScores(cfg: SoftmaxConfig, logits: ArrayLike<number>): Float64Array {
  const cols = cfg.columns, c = cfg.numClasses, rows = logits.length / cols;
  const out = new Float64Array(rows * (c + 1));
  const prob = new Float64Array(logits.length);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    if (cfg.kind === "ce") {
      softmaxInto(logits, prob, o, o + cols);
      out.set(prob.subarray(o, o + cols), i * (c + 1));
    } else {
      softmaxInto(logits, prob, o, o + c);
      softmaxInto(logits, prob, o + c, o + c + 2);
      for (let j = 0; j < c; j++) out[i * (c + 1) + j] = prob[o + j] * prob[o + c];
      out[i * (c + 1) + c] = prob[o + c + 1];
    }
  }
  return out;
}
