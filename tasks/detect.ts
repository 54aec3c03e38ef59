/**
 * `deno task detect IMAGE... --model DIR`: detections as JSON (masks as COCO RLE) and drawn images.
 * @example
 * ```sh
 * deno task detect photos/ --model runs/demo/stages/train@loss=eqlv2 --out runs/detect/photos.json
 * deno task detect a.jpg --weights maskrcnn.pth --preset r50_fpn --num-classes 91 --categories coco_val.json
 * ```
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { basename, dirname, extname, join } from "node:path";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError, quote } from "../core/errors.ts";
import { imageFilesDataset, listImageFiles } from "../data/image_files_dataset.ts";
import { adapterAdvice } from "../gpu/device.ts";
import { PRESETS } from "../model/config.ts";
import { predictDataset } from "../model/predict_dataset.ts";
import { loadTrainedModel, loadWeightsModel, type TrainedModel } from "../model/trained_model.ts";
import { predictionInput } from "../model/model_card.ts";
import { drawDetections, type DrawnBox } from "../report/draw_detections.ts";
import { decodeRle } from "../eval/rle.ts";
import type { RleJson } from "../eval/results_file.ts";
import { initTensors } from "../tensor/tensor.ts";

export type DetectModel =
  | { model: string }
  | { weights: string; preset: string; numClasses: number; loss?: string };

export interface DetectOptions {
  images: string[];
  from: DetectModel;
  /** Default 0.3. */
  scoreThreshold?: number;
  /** The drawn images go beside it. */
  out: string;
  /** An LVIS/COCO annotation file whose categories name the model's ids. */
  categories?: string;
  /** Default: as the model was trained. */
  shortSide?: number;
  maxSize?: number;
  draw?: boolean;
  log?: (line: string) => void;
}

export interface Detection {
  category_id: number;
  category: string;
  bbox: [number, number, number, number];
  score: number;
  /** pycocotools' compressed RLE; null when the model predicts no masks. */
  mask: RleJson | null;
}

export interface DetectOutput {
  model: string;
  scoreThreshold: number;
  images: { file: string; width: number; height: number; drawn: string | null; detections: Detection[] }[];
}

/** The JSON keeps every detection above the threshold. */
const MAX_DRAWN = 50;

/**
 * @example
 * ```ts
 * const r = await detectImages({ images: ["a.png"], from: { model: "runs/ci/stages/train@loss=bce" }, out: "dets.json" });
 * r.output.images[0].detections[0]?.category;
 * ```
 */
export async function detectImages(o: DetectOptions): Promise<{ json: string; output: DetectOutput }> {
  const log = o.log ?? (() => {});
  const scoreThreshold = o.scoreThreshold ?? 0.3;
  if ("preset" in o.from && !Object.hasOwn(PRESETS, o.from.preset)) {
    throw new InputError(`Unknown --preset ${quote(o.from.preset)} (known: ${Object.keys(PRESETS).join(", ")})`);
  }
  const files = await listImageFiles(o.images);
  const dataset = await imageFilesDataset(files);
  const names = o.categories ? await _categoryNames(o.categories) : undefined;
  const runtime = await initTensors();
  const advice = adapterAdvice(runtime.report);
  if (advice) log(`warning: ${advice}`);
  const model = await _load(o.from, scoreThreshold, log);
  const output: DetectOutput = { model: _describe(o.from), scoreThreshold, images: [] };
  try {
    const index = new Map(model.card.categoryIds.map((id, k) => [id, k]));
    const nameOf = (id: number) =>
      names?.get(id) ?? model.card.categoryNames?.[index.get(id) ?? -1] ?? `category ${id}`;
    const rows = await predictDataset(model, dataset, {
      batchSize: 1,
      ...predictionInput(model.card, o.shortSide, o.maxSize),
      workers: 0,
    });
    const byImage = Map.groupBy(rows.filter((r) => r.score >= scoreThreshold), (r) => r.image_id);
    const drawnNames = new Set<string>();
    for (const [i, file] of files.entries()) {
      const detections: Detection[] = (byImage.get(i + 1) ?? []).sort((a, b) => b.score - a.score).map((r) => ({
        category_id: r.category_id,
        category: nameOf(r.category_id),
        bbox: r.bbox,
        score: r.score,
        mask: r.segmentation ?? null,
      }));
      let drawn: string | null = null;
      if (o.draw ?? true) {
        drawn = _drawnName(join(dirname(o.out), basename(o.out, extname(o.out))), file, drawnNames);
        await Deno.mkdir(dirname(drawn), { recursive: true });
        const boxes: DrawnBox[] = detections.slice(0, MAX_DRAWN).map((d) => ({
          bbox: d.bbox,
          label: `${d.category} ${d.score.toFixed(2)}`,
          kind: "result",
          category: d.category,
          ...(d.mask ? { mask: decodeRle(d.mask) } : {}),
        }));
        await drawDetections(file, boxes, drawn);
      }
      const [width, height] = [dataset.images.width[i], dataset.images.height[i]];
      output.images.push({ file, width, height, drawn, detections });
      log(`${file}: ${detections.length} detections >= ${scoreThreshold}${drawn ? `, drawn in ${drawn}` : ""}`);
    }
  } finally {
    model.dispose();
  }
  await writeJsonAtomic(o.out, output, 1);
  return { json: o.out, output };
}

async function _load(from: DetectModel, scoreThreshold: number, log: (l: string) => void): Promise<TrainedModel> {
  // The output's threshold is applied again on the rows.
  const test = { scoreThreshold: Math.min(scoreThreshold, 0.05) };
  if ("model" in from) return await loadTrainedModel(from.model, { test });
  return await loadWeightsModel({ ...from, test, log });
}

function _describe(from: DetectModel): string {
  return "model" in from ? from.model : `${from.weights} (${from.preset}, ${from.numClasses} classes)`;
}

function _drawnName(folder: string, file: string, used: Set<string>): string {
  const stem = basename(file, extname(file));
  let name = `${stem}.png`;
  for (let k = 2; used.has(name); k++) name = `${stem}_${k}.png`;
  used.add(name);
  return join(folder, name);
}

async function _categoryNames(path: string): Promise<Map<number, string>> {
  let json: { categories?: { id?: unknown; name?: unknown }[] };
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new InputError(`Cannot read ${quote(path)}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!Array.isArray(json.categories)) {
    throw new InputError(`Cannot read "categories" in ${quote(path)}: expected a list`);
  }
  return new Map(json.categories.map((c, i) => {
    if (typeof c?.id !== "number" || typeof c.name !== "string") {
      throw new InputError(`Cannot read "categories[${i}]" in ${quote(path)}: expected an id and a name`);
    }
    return [c.id, c.name];
  }));
}

function _number(lo: number, hi: number, integer = false) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < lo || n > hi || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(
        `expected ${integer ? "a whole number" : "a number"} in [${lo}, ${hi}], got ${JSON.stringify(v)}`,
      );
    }
    return n;
  };
}

/**
 * @example
 * ```ts
 * await detectCommand().parseAsync(["a.png", "--model", "runs/ci/stages/train@loss=bce"], { from: "user" });
 * ```
 */
export function detectCommand(): Command {
  return new Command("deno task detect")
    .description("Detect objects in image files with a trained model; write JSON and drawn images")
    .argument("<images...>", "image files, or folders of them")
    .option("--model <dir>", "a train stage's model folder (model.json + weights.safetensors)")
    .option("--weights <file>", "a .pth or safetensors weights file, instead of --model")
    .option("--preset <name>", "with --weights: the model preset the file fits")
    .option(
      "--num-classes <n>",
      "with --weights: the classes of its classifier",
      _number(1, 1e5, true),
    )
    .option("--loss <name>", "with --weights: the loss whose scores to use (ce: softmax, as torchvision's heads)")
    .option("--categories <file>", "an LVIS/COCO annotation file whose categories name the model's ids")
    .addOption(
      new Option("--score-threshold <s>", "leave out detections below this score").argParser(
        _number(0, 1),
      ).default(0.3),
    )
    .option(
      "--short-side <px>",
      "resize the shorter side to this (default: as trained)",
      _number(8, 4096, true),
    )
    .option(
      "--out <file>",
      "the detections JSON; drawn images go in a folder of the same name",
      "runs/detect/detections.json",
    )
    .option("--no-draw", "write the JSON only")
    .action(async (images, opts) => {
      if (!opts.model === !opts.weights) throw new InputError("Give exactly one of --model DIR and --weights FILE");
      let from: DetectModel;
      if (opts.model) from = { model: opts.model };
      else {
        if (!opts.preset || opts.numClasses === undefined) {
          throw new InputError("--weights needs --preset NAME and --num-classes N");
        }
        from = { weights: opts.weights!, preset: opts.preset, numClasses: opts.numClasses, loss: opts.loss };
      }
      const r = await detectImages({
        images,
        from,
        scoreThreshold: opts.scoreThreshold,
        out: opts.out,
        categories: opts.categories,
        shortSide: opts.shortSide,
        draw: opts.draw,
        log: (line) => console.error(line),
      });
      const count = r.output.images.reduce((a, im) => a + im.detections.length, 0);
      console.log(`${count} detections in ${r.output.images.length} images: ${r.json}`);
    }) as unknown as Command;
}
