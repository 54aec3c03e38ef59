/**
 * The GPU sigmoid-family losses (bce, eqlv2, eql, focal, efl, federated):
 * one fused kernel per step plus two small reduction passes.
 */
import { InputError } from "../core/errors.ts";
import { Rng } from "../core/rng.ts";
import { rt, Tensor } from "../tensor/tensor.ts";
import { sigmoidFusedKernel } from "../kernels/losses/sigmoid_fused.ts";
import { rowBlockPlan } from "../kernels/losses/row_blocks.ts";
import { federatedMask } from "./federated_sampler.ts";
import type { ForwardOptions, LossState, LossStep } from "./loss.ts";
import type { LossParams } from "./params.ts";
import { type SigmoidConfig, sigmoidConfig, type SigmoidKind } from "./sigmoid_config.ts";
import { _GpuLossBase } from "./_gpu_loss_base.ts";

/** Rows each invocation of the fused kernel walks: enough chunks to fill a GPU at N = 1024, few partials. */
const ROWS_PER_CHUNK = 32;

/**
 * A sigmoid-family loss on the GPU.
 *
 * @example
 * ```ts
 * await initTensors();
 * const eqlv2 = new SigmoidLoss("eqlv2", parseLossParams("eqlv2", {}), 1203);
 * const { loss } = eqlv2.forward(logits, labels); // logits [N, 1204], labels i32 [N]
 * backward(loss);
 * ```
 */
export class SigmoidLoss extends _GpuLossBase {
  readonly name: SigmoidKind;
  readonly cfg: SigmoidConfig;
  /** The fields the kernel bakes in (a small pipeline cache key). */
  #kernelCfg: Pick<SigmoidConfig, "kind" | "numClasses" | "columns" | "gamma" | "mu" | "alpha" | "s">;
  protected readonly scoresMode;
  protected readonly clampRatio: boolean;
  /** EQL's T_j, or the federated mask of the step. */
  #columnParams: GPUBuffer;
  #federated: { weights: Float64Array; numSample: number; rng: Rng } | null = null;

  constructor(kind: SigmoidKind, params: LossParams<SigmoidKind>, numClasses: number) {
    const cfg = sigmoidConfig(kind, params, numClasses);
    super(numClasses, cfg.columns, cfg.initialRatio);
    this.name = kind;
    this.cfg = cfg;
    const { columns, gamma, mu, alpha, s } = cfg;
    this.#kernelCfg = { kind, numClasses, columns, gamma, mu, alpha, s };
    this.scoresMode = cfg.scoresWithObj ? "sigmoid_obj" as const : "sigmoid" as const;
    this.clampRatio = kind === "efl";
    this.#columnParams = rt().upload(Float32Array.from(cfg.rare ?? new Float64Array(numClasses)), "loss column params");
    if (kind === "federated") {
      const p = params as LossParams<"federated">;
      this.#federated = {
        weights: Float64Array.from(p.image_counts, (n) => Math.pow(n, p.freq_weight_power)),
        numSample: p.num_sample_cats,
        rng: new Rng(p.seed),
      };
    }
  }

  forward(logits: Tensor, labels: Tensor | Int32Array, opts: ForwardOptions = {}): LossStep {
    const r = rt();
    if (this.#federated) {
      if (labels instanceof Tensor) {
        throw new InputError("The federated loss samples categories on the host: give its labels as an Int32Array");
      }
      const mask = federatedMask({ labels, numClasses: this.numClasses, ...this.#federated });
      r.write(this.#columnParams, Float32Array.from(mask));
    }
    const inp = this.inputs(logits, labels);
    const avg = opts.avgFactor ?? inp.rows;
    if (!(avg > 0) || !Number.isFinite(avg)) {
      throw new InputError(`Invalid "avgFactor" for the ${this.name} loss: expected a number > 0, got ${avg}`);
    }
    const scale = this.cfg.lossWeight / avg;
    const grad = new Tensor([inp.rows, this.columns]);
    const weight = opts.weights ? new Tensor([inp.rows, this.columns]) : null;
    const plan = rowBlockPlan(
      { cfg: this.#kernelCfg, rowsPerChunk: ROWS_PER_CHUNK, writeWeights: weight !== null },
      this.columns,
      inp.rows,
    );
    const partials = this.partials(plan.slots * 3 * this.columns);
    for (const d of plan.dispatches) {
      r.dispatch(
        sigmoidFusedKernel,
        d,
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
    return this.#federated ? { ...s, rng: Array.from(this.#federated.rng.state) } : s;
  }

  override loadState(state: LossState): void {
    super.loadState(state);
    if (this.#federated && state.rng) this.#federated.rng = new Rng(Uint32Array.from(state.rng));
  }

  override dispose(): void {
    rt().release(this.#columnParams);
    super.dispose();
  }
}
