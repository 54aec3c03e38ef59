import { InputError } from "../core/errors.ts";
import { rt, Tensor } from "../tensor/tensor.ts";
import { seesawCountKernel, softmaxFusedKernel, softmaxRowKernel } from "../kernels/losses/softmax_fused.ts";
import { rowBlockPlan } from "../kernels/losses/row_blocks.ts";
import type { ForwardOptions, LossState, LossStep } from "./loss.ts";
import type { SoftmaxRule } from "./softmax_rule.ts";
import { _GpuLossBase } from "./_gpu_loss_base.ts";

const ROWS_PER_CHUNK = 32;

/**
 * A softmax-family loss on the GPU. Seesaw ignores `avgFactor` (classes are
 * averaged over foreground rows, objectness over all rows, as in mmdetection).
 *
 * @example
 * ```ts
 * const seesaw = createLoss("seesaw", {}, { numClasses: 1203 }); // a SoftmaxLoss
 * const { loss } = seesaw.forward(logits, labels); // logits [N, 1205]
 * ```
 */
export class SoftmaxLoss extends _GpuLossBase {
  readonly rule: SoftmaxRule;
  #fused: Record<1 | 4, { setup: string; body: string }>;
  /** Cumulative counts (C + 1), or the rule's step inputs; then [number of foreground rows]. */
  #cum: GPUBuffer;
  #cumBytes: number;
  #misc: GPUBuffer;

  constructor(rule: SoftmaxRule) {
    const { name, numClasses, columns, scores } = rule;
    super({ name, numClasses, columns, initialRatio: 0, clampRatio: false, scores });
    this.rule = rule;
    this.#fused = { 1: rule.fusedPass(1), 4: rule.fusedPass(4) };
    const cum = rule.stepInputs?.initial ?? new Float32Array(numClasses + 1);
    this.#cum = rt().upload(cum, "softmax loss inputs");
    // The size asked for: a pooled buffer may be larger.
    this.#cumBytes = cum.byteLength;
    this.#misc = rt().upload(new Float32Array(4), "seesaw misc");
  }

  protected override scoreConstants(): GPUBuffer | null {
    return this.rule.scores.constants ? this.#cum : null;
  }

  #writeStepInputs(labels: Tensor | Int32Array): void {
    const inputs = this.rule.stepInputs;
    if (!inputs) return;
    if (labels instanceof Tensor) {
      throw new InputError(`The ${this.name} loss samples rows on the host: give its labels as an Int32Array`);
    }
    const data = inputs.forStep(labels);
    if (data.byteLength > this.#cumBytes) {
      rt().release(this.#cum);
      this.#cum = rt().buffer(data.byteLength, "softmax loss inputs");
      this.#cumBytes = data.byteLength;
    }
    rt().write(this.#cum, data);
  }

  forward(logits: Tensor, labels: Tensor | Int32Array, opts: ForwardOptions = {}): LossStep {
    const r = rt();
    const inp = this.inputs(logits, labels);
    this.#writeStepInputs(labels);
    const rows = inp.rows, c = this.numClasses;
    const avg = this.rule.takesAvgFactor ? opts.avgFactor ?? rows : rows;
    if (!(avg > 0) || !Number.isFinite(avg)) {
      throw new InputError(`Invalid "avgFactor" for the ${this.name} loss: expected a number > 0, got ${avg}`);
    }
    const uniform = new Float32Array([this.rule.lossWeight / avg, 0, 0, 0]);
    if (this.rule.countsLabels) {
      r.dispatch(seesawCountKernel, { rows, numClasses: c }, [inp.labels.buffer, this.#cum, this.#misc]);
    }
    const grad = new Tensor([rows, this.columns]);
    const weight = opts.weights ? new Tensor([rows, this.columns]) : null;
    const rowStats = new Tensor([rows, this.rule.rowStride]);
    const layout = { numClasses: c, columns: this.columns };
    r.dispatch(
      softmaxRowKernel,
      { rows, ...layout, ...this.rule.rowPass },
      [logits.buffer, inp.labels.buffer, this.#cum, rowStats.buffer],
      uniform,
    );
    const base = { ...layout, rowStride: this.rule.rowStride, rowsPerChunk: ROWS_PER_CHUNK, writeWeights: !!weight };
    const plan = rowBlockPlan(base, this.columns, rows);
    const partials = this.partials(plan.slots * 3 * this.columns);
    for (const d of plan.dispatches) {
      r.dispatch(softmaxFusedKernel, { ...d, ...this.#fused[d.width] }, [
        logits.buffer,
        inp.labels.buffer,
        this.#cum,
        this.#misc,
        rowStats.buffer,
        grad.buffer,
        (weight ?? grad).buffer,
        partials,
        this.flagBuf,
      ], uniform);
    }
    const loss = this.finalize(partials, plan.slots, 1);
    rowStats.dispose();
    if (inp.owned) inp.labels.dispose();
    return this.recordStep(loss, logits, grad, weight);
  }

  override async state(): Promise<LossState> {
    const s = await super.state();
    const inputs = this.rule.stepInputs;
    if (inputs) return { ...s, ...inputs.state?.() };
    return { ...s, cum_samples: Array.from(await rt().readF32(this.#cum, this.numClasses + 1)) };
  }

  override loadState(state: LossState): void {
    super.loadState(state);
    const inputs = this.rule.stepInputs;
    if (inputs) return inputs.loadState?.(state);
    const cum = state.cum_samples ?? new Array(this.numClasses + 1).fill(0);
    if (cum.length !== this.numClasses + 1 || cum.some((x) => !(x >= 0))) {
      throw new InputError(
        `Invalid "cum_samples" in the ${this.name} loss state: expected ${this.numClasses + 1} counts >= 0`,
      );
    }
    rt().write(this.#cum, Float32Array.from(cum));
  }

  override dispose(): void {
    rt().release(this.#cum);
    rt().release(this.#misc);
    super.dispose();
  }
}
