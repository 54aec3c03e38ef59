/**
 * Float64 reference of the sigmoid-family losses: one step computes the
 * loss, the per-element weights, d loss / d logits and the per-category
 * gradient statistics, then carries the state forward exactly as
 * `/work/shared/specs/long-tail-losses.md` states.
 */
import { _bce, _powg, _sigmoid } from "./_math.ts";
import type { SigmoidConfig } from "./sigmoid_config.ts";

/** Per-category state (length C): accumulated |gradient| of positives and negatives, and their ratio. */
export interface LossStats64 {
  pos_grad: Float64Array;
  neg_grad: Float64Array;
  ratio: Float64Array;
}

export interface StepInput64 {
  /** Row-major [rows, columns]. */
  logits: ArrayLike<number>;
  labels: ArrayLike<number>;
  /** Divides the summed loss; the number of rows by default. */
  avgFactor?: number;
  /** Federated loss: 1 for the categories whose negatives count this step (length C). */
  columnMask?: ArrayLike<number>;
}

export interface StepOutput64 {
  loss: number;
  grad: Float64Array;
  weight: Float64Array;
  /** This step's statistics before they are added to the state (length C each). */
  step_pos: Float64Array;
  step_neg: Float64Array;
}

/** The state before any step. */
export function initialStats64(cfg: SigmoidConfig): LossStats64 {
  const c = cfg.numClasses;
  return {
    pos_grad: new Float64Array(c),
    neg_grad: new Float64Array(c),
    ratio: new Float64Array(c).fill(cfg.initialRatio),
  };
}

/** Per-column (positive weight, negative weight) of EQL v2 from the state before the step. */
export function eqlv2ChannelWeights(
  cfg: SigmoidConfig,
  ratio: ArrayLike<number>,
): { pos: Float64Array; neg: Float64Array } {
  const pos = new Float64Array(cfg.columns).fill(1), neg = new Float64Array(cfg.columns).fill(1);
  for (let j = 0; j < cfg.numClasses; j++) {
    neg[j] = 1 / (1 + Math.exp(-cfg.gamma * (ratio[j] - cfg.mu)));
    pos[j] = 1 + cfg.alpha * (1 - neg[j]);
  }
  return { pos, neg };
}

/**
 * One step of the float64 reference; updates `state` in place.
 *
 * @example
 * ```ts
 * const cfg = sigmoidConfig("eqlv2", parseLossParams("eqlv2", {}), 2);
 * const state = initialStats64(cfg);
 * const out = sigmoidReferenceStep(cfg, state, { logits: [0.5, -1, 2], labels: [1] });
 * out.loss; // sum of BCE / 1 row, all weights 1 on the first step
 * ```
 */
export function sigmoidReferenceStep(cfg: SigmoidConfig, state: LossStats64, input: StepInput64): StepOutput64 {
  const { columns: cols, numClasses: c, kind } = cfg;
  const rows = input.labels.length;
  const grad = new Float64Array(rows * cols), weight = new Float64Array(rows * cols);
  const stepPos = new Float64Array(c), stepNeg = new Float64Array(c);
  const scale = cfg.lossWeight / (input.avgFactor ?? rows);
  const eq = kind === "eqlv2" ? eqlv2ChannelWeights(cfg, state.ratio) : null;
  // EFL: gamma_j = gamma_b + s (1 - g_j), the loss scaled by gamma_j / gamma_b.
  const gammaOf = (j: number) => kind === "efl" && j < c ? cfg.gamma + cfg.s * (1 - state.ratio[j]) : cfg.gamma;
  let loss = 0;
  for (let i = 0; i < rows; i++) {
    const label = input.labels[i];
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      const x = input.logits[k], t = label === j ? 1 : 0;
      const bce = _bce(x, t), p = _sigmoid(x), d = p - t;
      let w = 1, l: number, g: number, stat: number;
      if (kind === "focal" || kind === "efl") {
        const gamma = gammaOf(j), a = t ? cfg.alpha : 1 - cfg.alpha;
        const pt = t ? p : 1 - p, m = 1 - pt, mg = _powg(m, gamma);
        const wf = kind === "efl" ? gamma / cfg.gamma : 1;
        w = wf * a * mg;
        l = w * bce;
        // d/dx of a (1 - p_t)^gamma BCE, signed by the target.
        g = wf * (t ? -1 : 1) * a * mg * (gamma * pt * bce + m);
        // EFL accumulates the logits' actual gradient (a backward hook upstream), normaliser included.
        stat = kind === "efl" ? Math.abs(scale * g) : Math.abs(g);
      } else {
        if (eq) w = t ? eq.pos[j] : eq.neg[j];
        else if (kind === "eql") w = 1 - (label < c ? 1 : 0) * cfg.rare![j] * (1 - t);
        else if (kind === "federated") w = j < c ? input.columnMask![j] : 0;
        l = w * bce;
        g = w * d;
        stat = Math.abs(g);
      }
      loss += l;
      grad[k] = scale * g;
      weight[k] = w;
      if (j < c) t ? (stepPos[j] += stat) : (stepNeg[j] += stat);
    }
  }
  applyStats64(cfg, state, stepPos, stepNeg);
  return { loss: scale * loss, grad, weight, step_pos: stepPos, step_neg: stepNeg };
}

/** Add one step's (already all-reduced) statistics to the state and refresh the ratio. */
export function applyStats64(
  cfg: SigmoidConfig,
  state: LossStats64,
  stepPos: Float64Array,
  stepNeg: Float64Array,
): void {
  for (let j = 0; j < cfg.numClasses; j++) {
    state.pos_grad[j] += stepPos[j];
    state.neg_grad[j] += stepNeg[j];
    const r = state.pos_grad[j] / (state.neg_grad[j] + 1e-10);
    state.ratio[j] = cfg.kind === "efl" ? Math.min(1, Math.max(0, r)) : r;
  }
}

/** Test-time scores [rows, columns]: sigmoid, or with EQL v2's objectness s_j = sigma(x_j) (1 - sigma(x_C)). */
export function sigmoidReferenceScores(cfg: SigmoidConfig, logits: ArrayLike<number>): Float64Array {
  const cols = cfg.columns, rows = logits.length / cols;
  const out = Float64Array.from(logits, _sigmoid);
  if (cfg.scoresWithObj) {
    for (let i = 0; i < rows; i++) {
      const fg = 1 - out[i * cols + cfg.numClasses];
      for (let j = 0; j < cfg.numClasses; j++) out[i * cols + j] *= fg;
    }
  }
  return out;
}
