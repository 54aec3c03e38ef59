import type { Rng } from "../../core/rng.ts";

/**
 * Deal categories to images, each to its target number of distinct images; an image left empty gets one
 * category drawn by weight, so every image has an object.
 */
export function dealCategories(
  options: { imageCounts: readonly number[]; numImages: number; maxPerImage: number; rng: Rng },
): number[][] {
  const { imageCounts, numImages, maxPerImage, rng } = options;
  const perImage: number[][] = Array.from({ length: numImages }, () => []);
  // Most frequent first, so the rare ones still find free room at the end.
  const order = imageCounts.map((_, i) => i).sort((a, b) => imageCounts[b] - imageCounts[a]);
  const pool = Array.from({ length: numImages }, (_, i) => i);
  for (const cat of order) {
    rng.shuffle(pool);
    let placed = 0;
    for (const img of pool) {
      if (placed >= imageCounts[cat]) break;
      if (perImage[img].length < maxPerImage) {
        perImage[img].push(cat);
        placed++;
      }
    }
  }
  const total = imageCounts.reduce((a, b) => a + b, 0);
  for (const cats of perImage) {
    if (cats.length > 0) continue;
    let r = rng.int(total);
    let cat = 0;
    while (r >= imageCounts[cat]) r -= imageCounts[cat++];
    cats.push(cat);
  }
  for (const cats of perImage) rng.shuffle(cats);
  return perImage;
}
