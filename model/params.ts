/**
 * Named parameters under torchvision's state-dict keys, one flat ordered list for checkpoints, optimizers
 * and weight loading. Frozen entries (frozen BN statistics, frozen stages) take no gradient.
 */
import type { Rng } from "../core/rng.ts";
import { Tensor } from "../tensor/tensor.ts";

export type Init =
  | { kind: "kaiming"; fanIn: number }
  | { kind: "normal"; std: number }
  | { kind: "uniform"; bound: number }
  | { kind: "constant"; value: number };

export interface ParamOptions {
  /** Whether the optimizer updates it (default true). */
  trainable?: boolean;
}

export class ParamStore {
  readonly #params = new Map<string, Tensor>();
  readonly #derived = new Map<string, { generation: number; value: Tensor }>();
  #generation = 0;
  constructor(private readonly rng: Rng) {}

  /** Create (once) and return the parameter `name`. */
  param(name: string, shape: number[], init: Init, opts: ParamOptions = {}): Tensor {
    const have = this.#params.get(name);
    if (have) {
      if (have.shape.join() !== shape.join()) throw new Error(`Parameter "${name}" asked with two shapes`);
      return have;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (init.kind === "constant") data.fill(init.value);
    else if (init.kind === "uniform") {
      for (let i = 0; i < n; i++) data[i] = this.rng.uniform(-init.bound, init.bound);
    } else {
      const std = init.kind === "kaiming" ? Math.sqrt(2 / init.fanIn) : init.std;
      for (let i = 0; i < n; i++) data[i] = this.rng.normal() * std;
    }
    const t = Tensor.from(data, shape).keep().requireGrad(opts.trainable ?? true);
    this.#params.set(name, t);
    return t;
  }

  /** Every parameter, frozen ones included, in creation order. */
  entries(): [string, Tensor][] {
    return [...this.#params.entries()];
  }

  /** The parameters the optimizer updates, in creation order. */
  trainable(): [string, Tensor][] {
    return this.entries().filter(([, t]) => t.requiresGrad);
  }

  get(name: string): Tensor | undefined {
    return this.#params.get(name);
  }

  /** Overwrite a parameter's values; invalidates derived tensors such as folded frozen batch norms. */
  write(name: string, data: Float32Array): void {
    const t = this.#params.get(name);
    if (!t) throw new Error(`No parameter "${name}"`);
    t.write(data);
    this.markChanged();
  }

  /** Drop every cached derived tensor: parameters were changed from outside. */
  markChanged(): void {
    this.#generation++;
  }

  /** A tensor derived from non-training parameters (e.g. frozen BN scale), kept until a parameter is written. */
  derived(key: string, compute: () => Tensor): Tensor {
    const have = this.#derived.get(key);
    if (have && have.generation === this.#generation) return have.value;
    have?.value.dispose();
    const value = compute().keep();
    this.#derived.set(key, { generation: this.#generation, value });
    return value;
  }

  get count(): number {
    let n = 0;
    for (const t of this.#params.values()) n += t.size;
    return n;
  }

  dispose(): void {
    for (const t of this.#params.values()) {
      t.grad?.dispose();
      t.dispose();
    }
    for (const d of this.#derived.values()) d.value.dispose();
    this.#params.clear();
    this.#derived.clear();
  }
}
