// Class-aware sampling (Shen et al., ECCV 2016) as the decoupled baselines use it (Kang et al., ICLR 2020): each
// draw picks a category with probability n_c^q (n_c its training images), then one of its images uniformly.
import { Rng } from "../core/rng.ts";
import type { Dataset } from "./dataset.ts";

export interface ClassAwareOptions {
  dataset: Dataset;
  /** The exponent q of the per-category image count: 0 class-balanced, 0.5 square-root. */
  power: number;
  seed?: number;
}

/**
 * Seeded epochs of image indices drawn category first; epoch `e` is a pure function of (seed, e).
 *
 * @example
 * ```ts
 * import { ClassAwareSampler } from "./class_aware_sampler.ts";
 * import type { Dataset } from "./dataset.ts";
 * declare const dataset: Dataset;
 * const balanced = new ClassAwareSampler({ dataset, power: 0, seed: 7 });
 * const epoch0 = balanced.epoch(0); // Uint32Array of image indices, repeats allowed
 * ```
 */
export class ClassAwareSampler {
  readonly imagesOf: Uint32Array[];
  readonly #cumulative: Float64Array;
  readonly #categories: number[];
  readonly #epochSize: number;
  readonly #seed: number;

  constructor(options: ClassAwareOptions) {
    const { images, annotations: a, categories } = options.dataset;
    const lists: number[][] = Array.from({ length: categories.count }, () => []);
    const annotated = new Set<number>();
    for (let k = 0; k < a.count; k++) {
      const list = lists[a.category[k]], im = a.image[k];
      if (list[list.length - 1] !== im) list.push(im);
      annotated.add(im);
    }
    // Annotations come grouped by image in image order, so each list is ascending without repeats.
    this.imagesOf = lists.map((l) => Uint32Array.from(l));
    this.#categories = lists.flatMap((l, c) => (l.length ? [c] : []));
    let total = 0;
    this.#cumulative = Float64Array.from(
      this.#categories,
      (c) => total += Math.pow(this.imagesOf[c].length, options.power),
    );
    this.#epochSize = Math.min(annotated.size, images.count);
    this.#seed = options.seed ?? 1;
  }

  get epochSize(): number {
    return this.#epochSize;
  }

  categoryProbability(c: number): number {
    const k = this.#categories.indexOf(c);
    if (k < 0) return 0;
    const total = this.#cumulative[this.#cumulative.length - 1];
    return (this.#cumulative[k] - (k > 0 ? this.#cumulative[k - 1] : 0)) / total;
  }

  epoch(epoch: number): Uint32Array {
    if (this.#categories.length === 0) return new Uint32Array(0);
    const out = new Uint32Array(this.#epochSize);
    const rng = new Rng((Math.imul(this.#seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x2c1b3c6d)) >>> 0);
    const cum = this.#cumulative, total = cum[cum.length - 1];
    for (let d = 0; d < out.length; d++) {
      // The first category whose cumulative weight exceeds u, by bisection.
      const u = rng.float() * total;
      let lo = 0, hi = cum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      const list = this.imagesOf[this.#categories[lo]];
      out[d] = list[rng.int(list.length)];
    }
    return out;
  }
}
