/**
 * Named parameters of a model. Layers ask the store for their tensors by a
 * dotted name ("backbone.stage1.0.conv1.weight"), so checkpoints, optimizers
 * and pretrained-weight loading all see one flat, ordered list.
 */
import type { Rng } from "../core/rng.ts";
import { Tensor } from "../tensor/tensor.ts";

export type Init =
  | { kind: "kaiming"; fanIn: number }
  | { kind: "normal"; std: number }
  | { kind: "constant"; value: number };

export class ParamStore {
  readonly #params = new Map<string, Tensor>();
  constructor(private readonly rng: Rng) {}

  /** Create (once) and return the parameter `name`. */
  param(name: string, shape: number[], init: Init): Tensor {
    const have = this.#params.get(name);
    if (have) {
      if (have.shape.join() !== shape.join()) throw new Error(`Parameter "${name}" asked with two shapes`);
      return have;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (init.kind === "constant") data.fill(init.value);
    else {
      const std = init.kind === "kaiming" ? Math.sqrt(2 / init.fanIn) : init.std;
      for (let i = 0; i < n; i++) data[i] = this.rng.normal() * std;
    }
    const t = Tensor.from(data, shape).keep().requireGrad();
    this.#params.set(name, t);
    return t;
  }

  /** Every parameter, in creation order. */
  entries(): [string, Tensor][] {
    return [...this.#params.entries()];
  }

  get(name: string): Tensor | undefined {
    return this.#params.get(name);
  }

  /** Total number of scalar parameters. */
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
    this.#params.clear();
  }
}
