// `ci` for tests, `default` to try the system in a minute, `bench` to show loss differences on rare categories.

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
