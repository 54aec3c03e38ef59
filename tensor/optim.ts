/**
 * In-place GPU optimizers (torch semantics); `lr` may change every step without recompiling.
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

export function parameter(data: ArrayLike<number>, shape: Shape): Tensor {
  return Tensor.from(data, shape).keep().requireGrad();
}

export interface OptimizerState {
  kind: "sgd" | "adamw";
  step: number;
  slots: Record<string, Float32Array[]>;
}

export interface ParamOverride {
  weightDecay?: number;
  lrScale?: number;
}

export interface OptimizerOptions {
  lr: number;
  /** torch's clip_grad_norm_. */
  clipNorm?: number;
  /** torch's parameter groups, keyed by tensor. */
  overrides?: Map<Tensor, ParamOverride>;
}

export abstract class Optimizer {
  readonly params: Tensor[];
  lr: number;
  readonly clipNorm: number | null;
  stepCount = 0;
  protected slots: Record<string, Tensor[]> = {};
  readonly #overrides: Map<Tensor, ParamOverride>;
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

  step(lr = this.lr): void {
    if (this.#disposed) throw new Error("Optimizer used after dispose");
    if (this.clipNorm !== null) this.#clip();
    this.stepCount++;
    this.params.forEach((p, i) => {
      const o = this.#overrides.get(p);
      if (p.grad) this.update(p, i, { lr: lr * (o?.lrScale ?? 1), weightDecay: o?.weightDecay, scale: this.#scale });
    });
  }

  protected abstract update(
    p: Tensor,
    index: number,
    s: { lr: number; weightDecay: number | undefined; scale: GPUBuffer },
  ): void;

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Before clipping; 0 when not clipping. */
  async gradNorm(): Promise<number> {
    return (await rt().readF32(this.#scale, 1))[0];
  }

  async exportState(): Promise<OptimizerState> {
    const slots: Record<string, Float32Array[]> = {};
    for (const [name, ts] of Object.entries(this.slots)) {
      slots[name] = [];
      for (const t of ts) slots[name].push(await t.toF32());
    }
    return { kind: this.kind, step: this.stepCount, slots };
  }

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

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const ts of Object.values(this.slots)) for (const t of ts) t.dispose();
    rt().release(this.#scale);
    if (this.#partials) rt().release(this.#partials);
  }

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

/** torch.optim.SGD semantics, dampening 0. */
export interface SgdOptions extends OptimizerOptions {
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

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

/** torch.optim.AdamW semantics. */
export interface AdamWOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

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
