/**
 * Optimizers that update parameters in place on the GPU: SGD (momentum,
 * Nesterov, L2 weight decay) and AdamW (decoupled weight decay), both with
 * optional clipping by the global gradient norm, computed on the GPU. The
 * learning rate may change every step without recompiling anything, and
 * the state (momentum, moments, step count) exports to and imports from
 * Float32Arrays for checkpoints.
 *
 * @example
 * ```ts
 * import { initTensors } from "./tensor.ts";
 * import { backward, mul, sum } from "./ops.ts";
 * import { parameter, SGD } from "./optim.ts";
 * await initTensors();
 * const w = parameter([1, 2, 3], [3]);
 * const opt = new SGD([w], { lr: 0.1, momentum: 0.9 });
 * backward(sum(mul(w, w)));
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
import {
  adamwKernel,
  adamwUniform,
  clipScaleKernel,
  clipScaleUniform,
  sgdKernel,
  sgdUniform,
  sumSquaresKernel,
  sumSquaresParts,
  sumSquaresUniform,
} from "../kernels/optim.ts";
import { InputError } from "../core/errors.ts";
import { zeros } from "./ops.ts";
import { rt, type Shape, Tensor } from "./tensor.ts";

/** A trainable tensor: kept for the life of the model, and its gradient is wanted. */
export function parameter(data: ArrayLike<number>, shape: Shape): Tensor {
  return Tensor.from(data, shape).keep().requireGrad();
}

/** Optimizer state as host arrays, one array per parameter in each slot. */
export interface OptimizerState {
  kind: "sgd" | "adamw";
  step: number;
  slots: Record<string, Float32Array[]>;
}

/** Per-parameter settings, e.g. no weight decay on norm layers or a larger learning rate for biases. */
export interface ParamOverride {
  /** Replaces the optimizer's weight decay for this parameter. */
  weightDecay?: number;
  /** Multiplies the step's learning rate for this parameter. */
  lrScale?: number;
}

/** Options every optimizer takes. */
export interface OptimizerOptions {
  lr: number;
  /** Scale gradients so that their global L2 norm is at most this (torch's clip_grad_norm_). */
  clipNorm?: number;
  /** Settings that differ for some parameters (torch's parameter groups, keyed by tensor). */
  overrides?: Map<Tensor, ParamOverride>;
}

export abstract class Optimizer {
  readonly params: Tensor[];
  /** Learning rate of the next step; change it freely between steps. */
  lr: number;
  readonly clipNorm: number | null;
  /** Steps taken (AdamW's bias correction uses it). */
  stepCount = 0;
  protected slots: Record<string, Tensor[]> = {};
  readonly #overrides: Map<Tensor, ParamOverride>;
  /** [globalNorm, clipScale] on the GPU. */
  #scale: GPUBuffer;
  #partials: GPUBuffer | null = null;
  #partsTotal = 0;
  #disposed = false;

  protected constructor(params: Tensor[], opts: OptimizerOptions, slotNames: string[]) {
    if (!(opts.lr >= 0)) throw new InputError(`Cannot use learning rate ${opts.lr}: expected a number >= 0`);
    if (opts.clipNorm !== undefined && !(opts.clipNorm > 0)) {
      throw new InputError(`Cannot clip gradients to norm ${opts.clipNorm}: expected a number > 0`);
    }
    params.forEach((p, i) => {
      if (!p.requiresGrad || p.dtype !== "f32") {
        throw new InputError(`Parameter ${i} [${p.shape}] must be an f32 tensor that requires grad`);
      }
    });
    this.params = [...params];
    this.#overrides = new Map(opts.overrides ?? []);
    for (const [t, o] of this.#overrides) {
      if (!this.params.includes(t)) {
        throw new InputError(`An override names a tensor [${t.shape}] that is not a parameter`);
      }
      if (o.weightDecay !== undefined && !(o.weightDecay >= 0)) {
        throw new InputError(
          `Cannot use weight decay ${o.weightDecay} for parameter [${t.shape}]: expected a number >= 0`,
        );
      }
      if (o.lrScale !== undefined && !(o.lrScale >= 0)) {
        throw new InputError(`Cannot use lrScale ${o.lrScale} for parameter [${t.shape}]: expected a number >= 0`);
      }
    }
    this.lr = opts.lr;
    this.clipNorm = opts.clipNorm ?? null;
    const r = rt();
    this.#scale = r.upload(new Float32Array([0, 1]), "optim-scale");
    if (this.clipNorm !== null) {
      this.#partsTotal = this.params.reduce((a, p) => a + sumSquaresParts(p.size), 0);
      this.#partials = r.buffer(this.#partsTotal * 4, "optim-partials");
    }
    for (const name of slotNames) this.slots[name] = this.params.map((p) => zeros(p.shape).keep());
  }

  /** Apply one update to every parameter that has a gradient; `lr` overrides `this.lr` for this step. */
  step(lr = this.lr): void {
    if (this.#disposed) throw new Error("Optimizer used after dispose");
    if (this.clipNorm !== null) this.#clip();
    this.stepCount++;
    this.params.forEach((p, i) => {
      const o = this.#overrides.get(p);
      if (p.grad) this.update(p, i, { lr: lr * (o?.lrScale ?? 1), weightDecay: o?.weightDecay, scale: this.#scale });
    });
  }

  /** Update one parameter; `weightDecay` is its override, if any. */
  protected abstract update(
    p: Tensor,
    index: number,
    s: { lr: number; weightDecay: number | undefined; scale: GPUBuffer },
  ): void;

  /** Dispose every parameter's gradient (the next backward starts from nothing). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** The global gradient norm of the last step (before clipping); 0 when not clipping. */
  async gradNorm(): Promise<number> {
    return (await rt().readF32(this.#scale, 1))[0];
  }

  /** Copy the state to the host. */
  async exportState(): Promise<OptimizerState> {
    const slots: Record<string, Float32Array[]> = {};
    for (const [name, ts] of Object.entries(this.slots)) {
      slots[name] = [];
      for (const t of ts) slots[name].push(await t.toF32());
    }
    return { kind: this.kind, step: this.stepCount, slots };
  }

  /** Restore state exported by `exportState` from an optimizer over parameters of the same shapes. */
  importState(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new InputError(`Cannot load "${state.kind}" optimizer state into a "${this.kind}" optimizer`);
    }
    for (const [name, ts] of Object.entries(this.slots)) {
      const arrays = state.slots[name];
      if (!arrays || arrays.length !== ts.length) {
        throw new InputError(
          `Cannot read optimizer state "slots.${name}": expected ${ts.length} arrays, got ${arrays?.length ?? 0}`,
        );
      }
      ts.forEach((t, i) => {
        if (arrays[i].length !== t.size) {
          throw new InputError(
            `Cannot read optimizer state "slots.${name}[${i}]": expected ${t.size} numbers, got ${arrays[i].length}`,
          );
        }
        if (t.size > 0) rt().write(t.buffer, arrays[i]);
      });
    }
    this.stepCount = state.step;
  }

  abstract readonly kind: "sgd" | "adamw";

  /** Release the state's GPU memory (parameters and gradients stay). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const ts of Object.values(this.slots)) for (const t of ts) t.dispose();
    rt().release(this.#scale);
    if (this.#partials) rt().release(this.#partials);
  }

  /** Sum of squares of every gradient into partials, then [norm, scale] into the scale buffer. */
  #clip(): void {
    const r = rt();
    let offset = 0;
    for (const p of this.params) {
      const parts = sumSquaresParts(p.size);
      if (p.grad && p.size > 0) {
        r.dispatch(
          sumSquaresKernel,
          { parts },
          [p.grad.buffer, this.#partials!],
          sumSquaresUniform(p.size, parts, offset),
        );
      } else {
        r.write(this.#partials!, new Float32Array(parts), offset * 4);
      }
      offset += parts;
    }
    r.dispatch(clipScaleKernel, {}, [this.#partials!, this.#scale], clipScaleUniform(this.#partsTotal, this.clipNorm!));
  }
}

/** Options of `SGD` (torch.optim.SGD semantics, dampening 0). */
export interface SgdOptions extends OptimizerOptions {
  momentum?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with momentum: v = mu v + g + wd p; p -= lr v (or lr (g + mu v) with Nesterov). */
export class SGD extends Optimizer {
  readonly kind = "sgd" as const;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[], opts: SgdOptions) {
    super(params, opts, (opts.momentum ?? 0) > 0 ? ["velocity"] : []);
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
  }

  protected update(p: Tensor, i: number, s: { lr: number; weightDecay: number | undefined; scale: GPUBuffer }): void {
    const weightDecay = s.weightDecay ?? this.weightDecay;
    const kp = { momentum: this.momentum, weightDecay, nesterov: this.nesterov, n: p.size };
    const bufs = this.momentum > 0
      ? [p.buffer, p.grad!.buffer, this.slots.velocity[i].buffer, s.scale]
      : [p.buffer, p.grad!.buffer, s.scale];
    rt().dispatch(sgdKernel, kp, bufs, sgdUniform(s.lr, p.size));
  }
}

/** Options of `AdamW` (torch.optim.AdamW semantics). */
export interface AdamWOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled decay: p *= 1 - lr * weightDecay each step. */
  weightDecay?: number;
}

/** Adam with decoupled weight decay (Loshchilov and Hutter). */
export class AdamW extends Optimizer {
  readonly kind = "adamw" as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: Tensor[], opts: AdamWOptions) {
    super(params, opts, ["m", "v"]);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  protected update(p: Tensor, i: number, s: { lr: number; weightDecay: number | undefined; scale: GPUBuffer }): void {
    const { beta1, beta2, eps } = this;
    const weightDecay = s.weightDecay ?? this.weightDecay;
    rt().dispatch(
      adamwKernel,
      { beta1, beta2, eps, weightDecay, n: p.size },
      [p.buffer, p.grad!.buffer, this.slots.m[i].buffer, this.slots.v[i].buffer, s.scale],
      adamwUniform({ lr: s.lr, beta1, beta2, t: this.stepCount, n: p.size }),
    );
  }
}
