/** Random but consistent report inputs: two runs over C categories, images and detections. */
import { join } from "node:path";
import sharp from "sharp";
import { maskToSegmentation } from "../../eval/rle_encode.ts";

/** Paths and the values written into them. */
export interface FakeRuns {
  dir: string;
  categories: { id: number; name: string; frequency: string; image_count: number }[];
  runs: {
    name: string;
    metrics: string;
    segmMetrics?: string;
    trainLog: string;
    gradStats: string;
    detections: string;
  }[];
  results: Record<string, Record<string, number>>;
  /** Mask metrics, with `masks: true`. */
  segmResults: Record<string, Record<string, number>>;
  grads: Record<string, { pos_grad: number[]; neg_grad: number[] }>;
  trainAnnotations: string;
  images: { annotations: string; folder: string };
}

const r = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

/** An ellipse filling the box [x, y, w, h], as a results file's compressed RLE over the image. */
function ellipseSegmentation(box: number[], width: number, height: number) {
  const bits = new Uint8Array(width * height);
  const [cx, cy, rx, ry] = [box[0] + box[2] / 2, box[1] + box[3] / 2, box[2] / 2, box[3] / 2];
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      if (((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1) bits[x * height + y] = 1;
    }
  }
  return maskToSegmentation({ height, width, x: 0, y: 0, cropWidth: width, cropHeight: height, bits });
}

/**
 * Write a fake evaluation of `names` runs into a fresh temporary folder; with `masks`, every run also
 * has mask metrics and its results carry masks.
 */
export async function makeFakeRuns(
  names = ["bce", "eqlv2"],
  numCategories = 8,
  options: { masks?: boolean } = {},
): Promise<FakeRuns> {
  const dir = await Deno.makeTempDir({ prefix: "report_test_" });
  const frequencies = ["f", "c", "r"];
  const categories = Array.from({ length: numCategories }, (_, i) => ({
    id: 3 * i + 2,
    name: `cat_${i}`,
    frequency: frequencies[i % 3],
    image_count: Math.round(r(1, 400)),
  }));
  await Deno.mkdir(join(dir, "images"));
  const images = [];
  for (let i = 0; i < 3; i++) {
    const id = 100 + i * 7;
    const [width, height] = [Math.round(r(80, 140)), Math.round(r(60, 120))];
    await sharp({ create: { width, height, channels: 3, background: { r: 30, g: 60, b: 200 } } }).jpeg()
      .toFile(join(dir, "images", `img_${id}.jpg`));
    images.push({
      id,
      width,
      height,
      file_name: `img_${id}.jpg`,
      neg_category_ids: [],
      not_exhaustive_category_ids: [],
    });
  }
  const annotations = images.map((im, i) => ({
    id: i + 1,
    image_id: im.id,
    category_id: categories[i].id,
    bbox: [5, 5, 30, 25],
    area: 750,
  }));
  const gt = { images, annotations, categories };
  const trainAnnotations = join(dir, "train.json");
  await Deno.writeTextFile(trainAnnotations, JSON.stringify(gt));
  const results: FakeRuns["results"] = {};
  const segmResults: FakeRuns["segmResults"] = {};
  const grads: FakeRuns["grads"] = {};
  const runs = [];
  for (const name of names) {
    const res = {
      AP: r(0.05, 0.5),
      AP50: r(0.1, 0.7),
      AP75: r(0.02, 0.4),
      APr: r(0.01, 0.3),
      APc: r(0.05, 0.4),
      APf: r(0.1, 0.6),
      "AR@300": r(0.1, 0.6),
    };
    results[name] = res;
    const perCategory = categories.map((c) => ({ id: c.id, frequency: c.frequency, AP: r(0.01, 0.9) }));
    const metrics = join(dir, `${name}_metrics.json`);
    await Deno.writeTextFile(metrics, JSON.stringify({ results: res, per_category: perCategory }));
    const trainLog = join(dir, `${name}_log.jsonl`);
    const lines = Array.from(
      { length: 12 },
      (_, step) =>
        JSON.stringify({ step: step * 10, lr: 0.01, loss: { total: r(0.5, 2), cls: r(0.2, 1), box: r(0.1, 0.5) } }),
    );
    await Deno.writeTextFile(trainLog, lines.join("\n") + "\n");
    grads[name] = { pos_grad: categories.map(() => r(1, 100)), neg_grad: categories.map(() => r(1, 1000)) };
    const gradStats = join(dir, `${name}_grad.json`);
    await Deno.writeTextFile(gradStats, JSON.stringify({ loss: name, ...grads[name] }));
    let segmMetrics: string | undefined;
    if (options.masks) {
      segmResults[name] = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v * r(0.6, 0.95)]));
      segmMetrics = join(dir, `${name}_metrics_segm.json`);
      const perCat = categories.map((c) => ({ id: c.id, frequency: c.frequency, AP: r(0.01, 0.9) }));
      await Deno.writeTextFile(segmMetrics, JSON.stringify({ results: segmResults[name], per_category: perCat }));
    }
    const detections = join(dir, `${name}_dt.json`);
    const dets = images.flatMap((im) =>
      categories.slice(0, 3).map((c) => {
        const bbox = [r(0, 20), r(0, 20), r(10, 40), r(10, 30)];
        const segmentation = options.masks ? { segmentation: ellipseSegmentation(bbox, im.width, im.height) } : {};
        return { image_id: im.id, category_id: c.id, bbox, score: r(0.35, 1), ...segmentation };
      })
    );
    await Deno.writeTextFile(detections, JSON.stringify(dets));
    runs.push({ name, metrics, ...(segmMetrics ? { segmMetrics } : {}), trainLog, gradStats, detections });
  }
  return {
    dir,
    categories,
    runs,
    results,
    segmResults,
    grads,
    trainAnnotations,
    images: { annotations: trainAnnotations, folder: join(dir, "images") },
  };
}
