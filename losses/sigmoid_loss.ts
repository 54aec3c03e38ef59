import { InputError } from "../core/errors.ts";
import { rt, Tensor } from "../tensor/tensor.ts";
import { sigmoidScoresWgsl } from "../kernels/losses/loss_scores.ts";
import { type SigmoidFragments, sigmoidFusedKernel } from "../kernels/losses/sigmoid_fused.ts";
import { rowBlockPlan } from "../kernels/losses/row_blocks.ts";
import type { ForwardOptions, LossState, LossStep } from "./loss.ts";
import type { SigmoidRule } from "./sigmoid_rule.ts";
import { _GpuLossBase } from "./_gpu_loss_base.ts";

/** Rows each invocation of the fused kernel walks: enough chunks to fill a GPU at N = 1024, few partials. */
const ROWS_PER_CHUNK = 32;

/**
 * A sigmoid-family loss on the GPU: one fused kernel per step plus two small reductions.
 *
 * @example
 * ```ts
 * await initTensors();
 * const eqlv2 = createLoss("eqlv2", {}, { numClasses: 1203 }); // a SigmoidLoss
 * const { loss } = eqlv2.forward(logits, labels); // logits [N, 1204], labels i32 [N]
 * backward(loss);
 * ```
 */
export class SigmoidLoss extends _GpuLossBase {
  readonly rule: SigmoidRule;
  #fragments: Record<1 | 4, SigmoidFragments>;
  #columnParams: GPUBuffer;

  constructor(rule: SigmoidRule) {
    const { name, numClasses, columns, initialRatio = 0, clampRatio = false, scoresWithObj = false } = rule;
    const scores = { columns, body: sigmoidScoresWgsl({ columns, numClasses, withObjectness: scoresWithObj }) };
    super({ name, numClasses, columns, initialRatio, clampRatio, scores });
    this.rule = rule;
    this.#fragments = { 1: rule.wgsl(1), 4: rule.wgsl(4) };
    const initial = rule.columnInputs?.initial ?? new Float64Array(numClasses);
    this.#columnParams = rt().upload(Float32Array.from(initial), "loss column params");
  }

  forward(logits: Tensor, labels: Tensor | Int32Array, opts: ForwardOptions = {}): LossStep {
    const r = rt();
    const forStep = this.rule.columnInputs?.forStep;
    if (forStep) {
      if (labels instanceof Tensor) {
        throw new InputError(`The ${this.name} loss samples categories on the host: give its labels as an Int32Array`);
      }
      r.write(this.#columnParams, Float32Array.from(forStep(labels)));
    }
    const inp = this.inputs(logits, labels);
    const avg = opts.avgFactor ?? inp.rows;
    if (!(avg > 0) || !Number.isFinite(avg)) {
      throw new InputError(`Invalid "avgFactor" for the ${this.name} loss: expected a number > 0, got ${avg}`);
    }
    const scale = this.rule.lossWeight / avg;
    const grad = new Tensor([inp.rows, this.columns]);
    const weight = opts.weights ? new Tensor([inp.rows, this.columns]) : null;
    const base = {
      numClasses: this.numClasses,
      columns: this.columns,
      rowsPerChunk: ROWS_PER_CHUNK,
      writeWeights: weight !== null,
    };
    const plan = rowBlockPlan(base, this.columns, inp.rows);
    const partials = this.partials(plan.slots * 3 * this.columns);
    for (const d of plan.dispatches) {
      r.dispatch(
        sigmoidFusedKernel,
        { ...d, ...this.#fragments[d.width] },
        [
          logits.buffer,
          inp.labels.buffer,
          this.stateBuf,
          this.#columnParams,
          grad.buffer,
          (weight ?? grad).buffer,
          partials,
          this.flagBuf,
        ],
        new Float32Array([scale, 0, 0, 0]),
      );
    }
    const loss = this.finalize(partials, plan.slots, scale);
    if (inp.owned) inp.labels.dispose();
    return this.recordStep(loss, logits, grad, weight);
  }

  override async state(): Promise<LossState> {
    const s = await super.state();
    const extra = this.rule.columnInputs?.state?.();
    return extra ? { ...s, ...extra } : s;
  }

  override loadState(state: LossState): void {
    super.loadState(state);
    this.rule.columnInputs?.loadState?.(state);
  }

  override dispose(): void {
    rt().release(this.#columnParams);
    super.dispose();
  }
}
