import { type Dataset, FREQUENCIES } from "./dataset.ts";

/**
 * The LVIS v1 JSON of images `imageIndices` of `dataset`, with their annotations and every category, so the
 * evaluator's file reader can score an in-memory split (a tau search's held-out images) whatever its format.
 *
 * @example
 * ```ts
 * import { lvisSubset } from "./lvis_subset.ts";
 * import type { Dataset } from "./dataset.ts";
 * declare const train: Dataset;
 * Deno.writeTextFileSync("held_out.json", JSON.stringify(lvisSubset(train, [0, 5, 9])));
 * ```
 */
export function lvisSubset(dataset: Dataset, imageIndices: ArrayLike<number>): Record<string, unknown> {
  const { images: im, annotations: a, categories: cat } = dataset;
  const ids = (list: Uint32Array, from: number, to: number) => Array.from(list.subarray(from, to), (k) => cat.ids[k]);
  const images = [], annotations = [];
  for (const i of Array.from(imageIndices)) {
    images.push({
      id: im.ids[i],
      width: im.width[i],
      height: im.height[i],
      file_name: im.fileNames[i],
      neg_category_ids: ids(im.negCategories, im.negStart[i], im.negStart[i + 1]),
      not_exhaustive_category_ids: ids(
        im.notExhaustiveCategories,
        im.notExhaustiveStart[i],
        im.notExhaustiveStart[i + 1],
      ),
    });
    for (let k = im.annStart[i]; k < im.annStart[i + 1]; k++) {
      annotations.push({
        id: a.ids[k],
        image_id: im.ids[i],
        category_id: cat.ids[a.category[k]],
        bbox: Array.from(a.bbox.subarray(4 * k, 4 * k + 4)),
        area: a.area[k],
        iscrowd: a.iscrowd[k],
      });
    }
  }
  const categories = Array.from(cat.ids, (id, k) => ({
    id,
    name: cat.names[k],
    frequency: FREQUENCIES[cat.frequency[k]],
    image_count: cat.imageCount[k],
    instance_count: cat.instanceCount[k],
  }));
  return { images, annotations, categories };
}
