import type { Dataset } from "./dataset.ts";

/**
 * EQL's frequency per category: image_count / (training images with at least one annotation).
 *
 * @example
 * ```ts
 * import { categoryFrequencies } from "./category_stats.ts";
 * import type { Dataset } from "./dataset.ts";
 * declare const train: Dataset;
 * const f = categoryFrequencies(train); // Float64Array, one per category
 * ```
 */
export function categoryFrequencies(dataset: Dataset): Float64Array {
  const { images, categories } = dataset;
  let annotated = 0;
  for (let i = 0; i < images.count; i++) if (images.annStart[i + 1] > images.annStart[i]) annotated++;
  return Float64Array.from(categories.imageCount, (n) => n / Math.max(1, annotated));
}

/**
 * How many categories are rare, common and frequent.
 *
 * @example
 * ```ts
 * import { frequencyGroupCounts } from "./category_stats.ts";
 * import type { Dataset } from "./dataset.ts";
 * declare const train: Dataset;
 * const { r, c, f } = frequencyGroupCounts(train);
 * ```
 */
export function frequencyGroupCounts(dataset: Dataset): { r: number; c: number; f: number } {
  const counts = [0, 0, 0];
  for (const g of dataset.categories.frequency) counts[g]++;
  return { r: counts[0], c: counts[1], f: counts[2] };
}
