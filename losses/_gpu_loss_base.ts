// Host code shared by the GPU losses; the per-category state buffer is [pos_grad, neg_grad, ratio] (f32, 3C).
import { InputError, quote } from "../core/errors.ts";
import { record } from "../tensor/autograd.ts";
import { mapRaw } from "../tensor/ops.ts";
import { rt, Tensor } from "../tensor/tensor.ts";
import { lossApplyKernel, lossColumnsKernel, lossSumKernel } from "../kernels/losses/loss_finalize.ts";
import { lossScoresKernel } from "../kernels/losses/loss_scores.ts";
import type { AllReduceHook, ClassificationLoss, ForwardOptions, GradStats, LossState, LossStep } from "./loss.ts";

const NO_FLAG = 0xffffffff;

export interface GpuLossLayout {
  name: string;
  numClasses: number;
  columns: number;
  initialRatio: number;
  clampRatio: boolean;
  scores: { columns: number; body: string };
}

export abstract class _GpuLossBase implements ClassificationLoss {
  readonly name: string;
  readonly numClasses: number;
  readonly columns: number;
  allReduce: AllReduceHook | null = null;
  protected stateBuf: GPUBuffer;
  /** [min index of a non-finite logit, min row of a bad label]. */
  protected flagBuf: GPUBuffer;
  protected stepStats: Tensor;
  #partials: GPUBuffer | null = null;
  #partialsBytes = 0;
  #lossColumns: GPUBuffer;
  protected readonly initialRatio: number;
  protected readonly clampRatio: boolean;
  readonly #scores: GpuLossLayout["scores"];

  constructor(layout: GpuLossLayout) {
    const { numClasses, columns, initialRatio } = layout;
    this.name = layout.name;
    this.numClasses = numClasses;
    this.columns = columns;
    this.initialRatio = initialRatio;
    this.clampRatio = layout.clampRatio;
    this.#scores = layout.scores;
    const r = rt();
    this.stateBuf = r.buffer(12 * numClasses, "loss state");
    this.flagBuf = r.upload(new Uint32Array([NO_FLAG, NO_FLAG]), "loss flag");
    this.stepStats = new Tensor([2, numClasses]).keep();
    this.#lossColumns = r.buffer(4 * columns, "loss columns");
    this.#writeState(
      new Float32Array(numClasses),
      new Float32Array(numClasses),
      new Float32Array(numClasses).fill(initialRatio),
    );
  }

  abstract forward(logits: Tensor, labels: Tensor | Int32Array, opts?: ForwardOptions): LossStep;

  protected inputs(logits: Tensor, labels: Tensor | Int32Array): { rows: number; labels: Tensor; owned: boolean } {
    const where = `the ${this.name} loss`;
    if (logits.dtype !== "f32" || logits.shape.length !== 2 || logits.shape[1] !== this.columns) {
      throw new InputError(
        `Invalid logits for ${where}: expected f32 [N, ${this.columns}], got ${logits.dtype} [${
          logits.shape.join(", ")
        }]`,
      );
    }
    const rows = logits.shape[0];
    if (rows === 0) throw new InputError(`Invalid logits for ${where}: expected at least one row, got 0`);
    if (labels instanceof Tensor) {
      if (labels.dtype !== "i32" || labels.shape.length !== 1 || labels.shape[0] !== rows) {
        throw new InputError(
          `Invalid labels for ${where}: expected i32 [${rows}], got ${labels.dtype} [${labels.shape.join(", ")}]`,
        );
      }
      return { rows, labels, owned: false };
    }
    if (labels.length !== rows) {
      throw new InputError(`Invalid labels for ${where}: expected ${rows} labels (one per row), got ${labels.length}`);
    }
    const bad = labels.findIndex((l) => !(l >= 0 && l <= this.numClasses));
    if (bad >= 0) {
      throw new InputError(
        `Invalid "labels[${bad}]" for ${where}: expected an integer in [0, ${this.numClasses}], got ${
          quote(labels[bad])
        }`,
      );
    }
    return { rows, labels: Tensor.from(labels, [rows], "i32"), owned: true };
  }

  protected partials(floats: number): GPUBuffer {
    if (this.#partialsBytes < floats * 4) {
      if (this.#partials) rt().release(this.#partials);
      this.#partials = rt().buffer(floats * 4, "loss partials");
      this.#partialsBytes = floats * 4;
    }
    return this.#partials!;
  }

  /** Reduce the partials into the loss and this step's statistics, all-reduce them if hooked, update the state. */
  protected finalize(partials: GPUBuffer, chunks: number, lossScale: number): Tensor {
    const r = rt();
    const loss = new Tensor([]);
    const base = { columns: this.columns, numClasses: this.numClasses, chunks, clampRatio: this.clampRatio };
    const apply = this.allReduce === null;
    const buffers = [partials, this.stepStats.buffer, this.#lossColumns];
    r.dispatch(lossColumnsKernel, { ...base, apply }, apply ? [...buffers, this.stateBuf] : buffers);
    r.dispatch(
      lossSumKernel,
      { columns: this.columns },
      [this.#lossColumns, loss.buffer],
      new Float32Array([lossScale, 0, 0, 0]),
    );
    if (!apply) {
      this.allReduce!(this.stepStats);
      r.dispatch(lossApplyKernel, { numClasses: this.numClasses, clampRatio: this.clampRatio }, [
        this.stepStats.buffer,
        this.stateBuf,
      ]);
    }
    return loss;
  }

  /** The scalar loss tensor with its backward: the incoming gradient times the precomputed d loss / d logits. */
  protected recordStep(loss: Tensor, logits: Tensor, grad: Tensor, weight: Tensor | null): LossStep {
    record(loss, this.name, [logits], (g) => [mapRaw("x0 * x1", [grad, g])]);
    return { loss, grad, weight };
  }

  async check(): Promise<void> {
    const [logit, row] = await rt().readU32(this.flagBuf, 2);
    if (logit === NO_FLAG && row === NO_FLAG) return;
    rt().write(this.flagBuf, new Uint32Array([NO_FLAG, NO_FLAG]));
    if (logit !== NO_FLAG) {
      const i = Math.floor(logit / this.columns), j = logit % this.columns;
      throw new InputError(`Invalid "logits[${i}][${j}]" given to the ${this.name} loss: NaN or infinite`);
    }
    throw new InputError(
      `Invalid "labels[${row}]" given to the ${this.name} loss: expected an integer in [0, ${this.numClasses}]`,
    );
  }

  scores(logits: Tensor): Tensor {
    if (logits.dtype !== "f32" || logits.shape.length !== 2 || logits.shape[1] !== this.columns) {
      throw new InputError(
        `Invalid logits for scores of the ${this.name} loss: expected f32 [N, ${this.columns}], got [${
          logits.shape.join(", ")
        }]`,
      );
    }
    const rows = logits.shape[0];
    const out = new Tensor([rows, this.#scores.columns]);
    const k = this.scoreConstants();
    if (rows > 0) {
      const p = { rows, body: this.#scores.body, ...(k ? { constants: true } : {}) };
      rt().dispatch(lossScoresKernel, p, k ? [logits.buffer, out.buffer, k] : [logits.buffer, out.buffer]);
    }
    return out;
  }

  protected scoreConstants(): GPUBuffer | null {
    return null;
  }

  async gradStats(): Promise<GradStats> {
    await this.check();
    const s = await rt().readF32(this.stateBuf, 2 * this.numClasses);
    return {
      pos_grad: Float64Array.from(s.subarray(0, this.numClasses)),
      neg_grad: Float64Array.from(s.subarray(this.numClasses)),
    };
  }

  async state(): Promise<LossState> {
    await this.check();
    const c = this.numClasses;
    const s = Array.from(await rt().readF32(this.stateBuf, 3 * c));
    return {
      loss: this.name,
      num_classes: c,
      pos_grad: s.slice(0, c),
      neg_grad: s.slice(c, 2 * c),
      ratio: s.slice(2 * c),
    };
  }

  loadState(state: LossState): void {
    const c = this.numClasses;
    if (state.loss !== this.name) {
      throw new InputError(`Cannot load the state of the ${quote(state.loss)} loss into the ${this.name} loss`);
    }
    for (const key of ["pos_grad", "neg_grad", "ratio"] as const) {
      const v = state[key];
      if (!Array.isArray(v) || v.length !== c || v.some((x) => !Number.isFinite(x))) {
        throw new InputError(`Invalid "${key}" in the ${this.name} loss state: expected ${c} finite numbers`);
      }
    }
    this.#writeState(
      Float32Array.from(state.pos_grad),
      Float32Array.from(state.neg_grad),
      Float32Array.from(state.ratio),
    );
  }

  #writeState(pos: Float32Array, neg: Float32Array, ratio: Float32Array): void {
    const all = new Float32Array(3 * this.numClasses);
    all.set(pos);
    all.set(neg, this.numClasses);
    all.set(ratio, 2 * this.numClasses);
    rt().write(this.stateBuf, all);
  }

  dispose(): void {
    const r = rt();
    r.release(this.stateBuf);
    r.release(this.flagBuf);
    if (this.#partials) r.release(this.#partials);
    r.release(this.#lossColumns);
    this.stepStats.dispose();
  }
}
