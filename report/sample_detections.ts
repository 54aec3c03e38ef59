import { basename, join } from "node:path";
import { InputError, quote } from "../core/errors.ts";
import { parseGroundTruth } from "../eval/ground_truth.ts";
import { readResults } from "../eval/results_file.ts";
import { decodeRle } from "../eval/rle.ts";
import { drawDetections, type DrawnBox } from "./draw_detections.ts";

export interface DetectionSamples {
  annotations: string;
  folder: string;
  count: number;
  minScore: number;
  maxPerImage: number;
}

interface _Image {
  id: number;
  width: number;
  height: number;
  file_name?: string;
  coco_url?: string;
}

/** Draw the first `count` images (by id) with ground truth, once per run with results, masks where present. */
export async function drawSampleDetections(
  samples: DetectionSamples,
  runs: { name: string; results: string }[],
  outDir: string,
): Promise<{ file: string; caption: string }[]> {
  const gt = await _readJson(samples.annotations) as {
    images: _Image[];
    annotations: { image_id: number; category_id: number; bbox: number[] }[];
    categories: { id: number; name?: string }[];
  };
  const names = new Map(gt.categories.map((c) => [c.id, c.name ?? String(c.id)]));
  const truth = Map.groupBy(gt.annotations, (a) => a.image_id);
  const chosen = gt.images.filter((im) => truth.has(im.id)).sort((a, b) => a.id - b.id).slice(0, samples.count);
  const figures: { file: string; caption: string }[] = [];
  // The evaluator's streaming reader copes with results files too large to parse whole.
  const typedGt = parseGroundTruth(gt, samples.annotations, false);
  const positions = new Map(chosen.map((im) => [typedGt.imageIndex.get(im.id)!, im.id]));
  for (const run of runs) {
    const results = await readResults(run.results, typedGt);
    const byImage = new Map<number, number[]>(chosen.map((im) => [im.id, []]));
    for (let i = 0; i < results.count; i++) {
      const id = positions.get(results.image[i]);
      if (id !== undefined && results.hasBbox[i] && results.score[i] >= samples.minScore) byImage.get(id)!.push(i);
    }
    for (const image of chosen) {
      const dets = byImage.get(image.id)!.sort((a, b) => results.score[b] - results.score[a])
        .slice(0, samples.maxPerImage);
      const size = { h: image.height, w: image.width };
      let masks = 0;
      const boxes: DrawnBox[] = [
        ...truth.get(image.id)!.map((a) => ({
          bbox: a.bbox,
          label: "",
          kind: "truth" as const,
          category: names.get(a.category_id) ?? String(a.category_id),
        })),
        ...dets.map((i) => {
          const category = names.get(typedGt.categoryIds[results.category[i]]) ?? "?";
          const seg = results.segmentation?.[i];
          // A mask of another size than the image cannot be drawn on it; the evaluator scores it as no overlap.
          const mask = seg && seg.size[0] === size.h && seg.size[1] === size.w ? decodeRle(seg) : undefined;
          if (mask) masks++;
          return {
            bbox: Array.from(results.bbox.subarray(4 * i, 4 * i + 4)),
            label: `${category} ${results.score[i].toFixed(2)}`,
            kind: "result" as const,
            category,
            mask,
          };
        }),
      ];
      const file = `detections_${image.id}_${run.name.replace(/[^A-Za-z0-9_-]/g, "_")}.png`;
      await drawDetections(join(samples.folder, _fileName(image)), boxes, join(outDir, file));
      const what = masks ? `${dets.length} results with masks` : `${dets.length} results`;
      figures.push({ file, caption: `${run.name}: image ${image.id}, ${what} >= ${samples.minScore}` });
    }
  }
  return figures;
}

function _fileName(image: _Image): string {
  if (image.file_name) return image.file_name;
  if (image.coco_url) return basename(new URL(image.coco_url).pathname);
  return `${String(image.id).padStart(12, "0")}.jpg`;
}

async function _readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new InputError(`Cannot read ${quote(path)}: ${(e as Error).message}`);
  }
}
