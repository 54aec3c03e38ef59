// An annotation file shaped like LVIS v1 train (key order, spacing, ~45-vertex polygons) at any scale, to measure
// ingestion where the real file cannot be downloaded.
import { Rng } from "../../core/rng.ts";

/** Sizes of the file; the defaults are LVIS v1 train's. */
export interface LvisLikeOptions {
  path: string;
  images?: number;
  categories?: number;
  annotations?: number;
  vertices?: number;
  seed?: number;
}

const _r2 = (v: number) => Math.round(v * 100) / 100;

/**
 * Write the file by streaming (it can be larger than a string may be).
 *
 * @example
 * ```ts
 * import { writeLvisLikeFile } from "./lvis_like_file.ts";
 * await writeLvisLikeFile({ path: "/tmp/like.json", images: 10, categories: 5, annotations: 40 });
 * ```
 */
export async function writeLvisLikeFile(options: LvisLikeOptions): Promise<{ bytes: number }> {
  const { path, images = 100_170, categories = 1203, annotations = 1_270_141, vertices = 45, seed = 1 } = options;
  const rng = new Rng(seed);
  const enc = new TextEncoder();
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  let bytes = 0;
  let pending: string[] = [];
  let pendingLen = 0;
  const put = async (s: string) => {
    pending.push(s);
    pendingLen += s.length;
    if (pendingLen > 8 << 20) await flush();
  };
  const flush = async () => {
    const b = enc.encode(pending.join(""));
    for (let off = 0; off < b.length;) off += await f.write(b.subarray(off));
    bytes += b.length;
    pending = [];
    pendingLen = 0;
  };
  try {
    const sizes = Array.from({ length: images }, () => [480 + rng.int(161), 360 + rng.int(281)]);
    await put(`{"info": {"description": "LVIS-like benchmark file", "version": "1.0", "year": 2020}, "annotations": [`);
    for (let i = 0; i < annotations; i++) {
      const img = rng.int(images);
      const [w, h] = sizes[img];
      const bw = 4 + rng.float() * (w / 2);
      const bh = 4 + rng.float() * (h / 2);
      const x = rng.float() * (w - bw);
      const y = rng.float() * (h - bh);
      const n = Math.max(3, vertices - 15 + rng.int(31));
      const poly: number[] = [];
      for (let k = 0; k < n; k++) {
        const a = (2 * Math.PI * k) / n;
        poly.push(_r2(x + bw / 2 + (bw / 2) * Math.cos(a)), _r2(y + bh / 2 + (bh / 2) * Math.sin(a)));
      }
      // Category ids skewed towards small ids, like LVIS's long tail.
      const cat = 1 + Math.floor(categories * rng.float() ** 3);
      await put(
        `${i ? ", " : ""}{"area": ${_r2(bw * bh * 0.78)}, "id": ${i + 1}, "segmentation": [[${
          poly.join(", ")
        }]], "image_id": ${img + 1}, "bbox": [${_r2(x)}, ${_r2(y)}, ${_r2(bw)}, ${_r2(bh)}], "category_id": ${cat}}`,
      );
    }
    await put(`], "images": [`);
    for (let i = 0; i < images; i++) {
      const neg = Array.from({ length: rng.int(8) }, () => 1 + rng.int(categories));
      await put(
        `${i ? ", " : ""}{"date_captured": "2013-11-14 11:18:45", "neg_category_ids": [${
          [...new Set(neg)].join(", ")
        }], "id": ${i + 1}, "license": 1, "height": ${sizes[i][1]}, "width": ${sizes[i][0]}, ` +
          `"flickr_url": "http://farm4.staticflickr.com/x.jpg", "coco_url": "http://images.cocodataset.org/train2017/${
            String(i + 1).padStart(12, "0")
          }.jpg", "not_exhaustive_category_ids": []}`,
      );
    }
    await put(
      `], "licenses": [{"url": "http://creativecommons.org/licenses/by/2.0/", "id": 1, "name": "CC BY"}], "categories": [`,
    );
    for (let c = 0; c < categories; c++) {
      await put(
        `${c ? ", " : ""}{"frequency": "${c < 405 ? "f" : c < 866 ? "c" : "r"}", "synset": "cat_${c + 1}.n.01", ` +
          `"synonyms": ["cat_${c + 1}"], "def": "category ${c + 1}", "id": ${c + 1}, "name": "cat_${c + 1}", ` +
          `"image_count": ${1 + rng.int(500)}, "instance_count": ${1 + rng.int(2000)}}`,
      );
    }
    await put(`]}`);
    await flush();
  } finally {
    f.close();
  }
  return { bytes };
}
