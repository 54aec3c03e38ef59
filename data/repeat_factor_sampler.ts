// Repeat-factor sampling (Gupta et al., LVIS, CVPR 2019): r_c = max(1, sqrt(t / f_c)), an image's r the largest
// of its categories'; it appears floor(r) times per epoch, plus once with probability r - floor(r).
import { Rng } from "../core/rng.ts";
import type { Dataset } from "./dataset.ts";

/**
 * Per-image repeat factors. Images without annotations get 1.
 *
 * @example
 * ```ts
 * import { repeatFactors } from "./repeat_factor_sampler.ts";
 * import type { Dataset } from "./dataset.ts";
 * declare const dataset: Dataset;
 * const r = repeatFactors(dataset, 0.001);
 * ```
 */
export function repeatFactors(dataset: Dataset, threshold = 0.001): Float64Array {
  const { images, annotations: a, categories } = dataset;
  // Images per category counted from the annotations, not the file's image_count (which may describe another split).
  const imagesWith = new Uint32Array(categories.count);
  const last = new Int32Array(categories.count).fill(-1);
  for (let k = 0; k < a.count; k++) {
    const c = a.category[k];
    if (last[c] !== a.image[k]) {
      last[c] = a.image[k];
      imagesWith[c]++;
    }
  }
  const perCategory = Float64Array.from(
    imagesWith,
    (n) => (n ? Math.max(1, Math.sqrt(threshold / (n / images.count))) : 1),
  );
  const factors = new Float64Array(images.count).fill(1);
  for (let k = 0; k < a.count; k++) {
    const im = a.image[k];
    factors[im] = Math.max(factors[im], perCategory[a.category[k]]);
  }
  return factors;
}

export interface RepeatFactorOptions {
  dataset: Dataset;
  /** t in the paper (default 0.001). */
  threshold?: number;
  seed?: number;
  shuffle?: boolean;
}

/**
 * Seeded epochs of image indices with repeats; epoch `e` is a pure function of (seed, e).
 *
 * @example
 * ```ts
 * import { RepeatFactorSampler } from "./repeat_factor_sampler.ts";
 * import type { Dataset } from "./dataset.ts";
 * declare const dataset: Dataset;
 * const sampler = new RepeatFactorSampler({ dataset, seed: 7 });
 * const epoch0 = sampler.epoch(0); // Uint32Array of image indices
 * console.log(sampler.expectedEpochSize, epoch0.length);
 * ```
 */
export class RepeatFactorSampler {
  readonly factors: Float64Array;
  readonly #seed: number;
  readonly #shuffle: boolean;

  constructor(options: RepeatFactorOptions) {
    this.factors = repeatFactors(options.dataset, options.threshold ?? 0.001);
    this.#seed = options.seed ?? 1;
    this.#shuffle = options.shuffle ?? true;
  }

  get expectedEpochSize(): number {
    return this.factors.reduce((s, r) => s + r, 0);
  }

  /** The image indices of epoch `epoch` (stochastic rounding drawn for this epoch). */
  epoch(epoch: number): Uint32Array {
    const rng = new Rng((Math.imul(this.#seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
    const out: number[] = [];
    this.factors.forEach((r, i) => {
      const whole = Math.floor(r);
      const times = whole + (rng.float() < r - whole ? 1 : 0);
      for (let k = 0; k < times; k++) out.push(i);
    });
    if (this.#shuffle) rng.shuffle(out);
    return Uint32Array.from(out);
  }
}
