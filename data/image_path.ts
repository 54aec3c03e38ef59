// LVIS v1 names images by COCO URL ("train2017/000000391895.jpg") and its val split draws from both COCO splits,
// so names stay relative to the COCO root; a root pointing into one split folder still works.
import { basename, dirname, join } from "node:path";
import type { Dataset } from "./dataset.ts";

const _COCO_SPLIT = /^(train|val|test)20\d\d$/;

/**
 * The path of image `index`.
 *
 * @example
 * ```ts
 * import { imagePath } from "./image_path.ts";
 * import type { Dataset } from "./dataset.ts";
 * const ds = { imageRoot: "/coco/val2017", images: { fileNames: ["train2017/1.jpg"] } } as unknown as Dataset;
 * imagePath(ds, 0); // "/coco/train2017/1.jpg"
 * ```
 */
export function imagePath(dataset: Dataset, index: number): string {
  const root = dataset.imageRoot;
  const name = dataset.images.fileNames[index];
  const slash = name.indexOf("/");
  // A root inside a COCO split folder, with names that start with a split folder: resolve from the COCO root.
  if (slash > 0 && _COCO_SPLIT.test(name.slice(0, slash)) && _COCO_SPLIT.test(basename(root))) {
    return join(dirname(root), name);
  }
  return join(root, name);
}
