// Checked at ingestion, so a wrong image root or a partial download shows before training reads a batch.
import type { Dataset } from "./dataset.ts";
import { imagePath } from "./image_path.ts";

export interface MissingImages {
  count: number;
  examples: string[];
}

/** Stat every image file of `ds` (`concurrency` at a time). */
export async function findMissingImages(ds: Dataset, { concurrency = 32, keep = 3 } = {}): Promise<MissingImages> {
  const missing: number[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ds.images.count; i = next++) {
      try {
        await Deno.stat(imagePath(ds, i));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) missing.push(i);
        // Other failures (permissions) are left to the loader, which names them when it reads the file.
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ds.images.count) }, worker));
  missing.sort((a, b) => a - b);
  return { count: missing.length, examples: missing.slice(0, keep).map((i) => imagePath(ds, i)) };
}

export function missingImagesMessage(m: MissingImages, total: number, root: string): string | undefined {
  if (m.count === 0) return undefined;
  const [dir, example] = [JSON.stringify(root), JSON.stringify(m.examples[0])];
  if (m.count === total) {
    return `None of the ${total} image files is in ${dir} (e.g. ${example}): is the image folder right?`;
  }
  return `${m.count} of ${total} image files are missing under ${dir}, e.g. ${example}`;
}
