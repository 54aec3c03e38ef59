// `ci` for tests, `demo` for the demo and the README's loss tables (EQL v2's effect on rare categories in minutes),
// `default` and `bench` for the benchmarks (100 and 200 categories at 128 px).

export interface SynthSettings {
  /** Number of categories, 3 to 1320. */
  categories: number;
  imageSize: number;
  /** Multiplies the per-category training image counts (1 = LVIS's r/c/f thresholds hold). */
  countScale: number;
  /** Largest training image count of a frequent category, before scaling. */
  maxFrequentImages: number;
  /** Validation images per category: this fraction of its training count, at least `valMinImages`. */
  valFraction: number;
  valMinImages: number;
  /** Categories per image on average (at most twice that). */
  categoriesPerImage: number;
  seed: number;
}

export const SYNTH_PRESETS = {
  ci: {
    categories: 20,
    imageSize: 64,
    countScale: 0.1,
    maxFrequentImages: 300,
    valFraction: 0.25,
    valMinImages: 2,
    categoriesPerImage: 3,
    seed: 1,
  },
  // Few categories, small images dense with objects (5 per image): ~300 training images, so a few minutes of
  // training visit each rare image ~8 times, and 12 validation images per category steady APr.
  demo: {
    categories: 30,
    imageSize: 96,
    countScale: 1,
    maxFrequentImages: 100,
    valFraction: 0.25,
    valMinImages: 12,
    categoriesPerImage: 5,
    seed: 1,
  },
  default: {
    categories: 100,
    imageSize: 128,
    countScale: 1,
    maxFrequentImages: 600,
    valFraction: 0.25,
    valMinImages: 5,
    categoriesPerImage: 3,
    seed: 1,
  },
  bench: {
    categories: 200,
    imageSize: 128,
    countScale: 1,
    maxFrequentImages: 800,
    valFraction: 0.25,
    valMinImages: 8,
    categoriesPerImage: 3,
    seed: 1,
  },
} as const satisfies Record<string, SynthSettings>;

export type SynthPreset = keyof typeof SYNTH_PRESETS;
