// The long-tailed synthetic dataset: PNGs and LVIS v1 files for train and val, fully determined by settings and seed.
import sharp from "sharp";
import { join } from "node:path";
import { Rng } from "../../core/rng.ts";
import { writeJsonAtomic } from "../../core/atomic.ts";
import { synthCategories, type SynthCategory } from "./catalog.ts";
import { dealCategories } from "./layout.ts";
import { SYNTH_PRESETS, type SynthPreset, type SynthSettings } from "./presets.ts";
import { drawImage } from "./render_image.ts";

export interface SynthOptions extends Partial<SynthSettings> {
  /** Folder to write into (created; existing files with the same names are overwritten). */
  outDir: string;
  preset?: SynthPreset;
  /**
   * "lvis" (default): LVIS v1 files with federated labels. "coco": COCO files (`instances_{train,val}.json`),
   * every instance annotated, no frequency or negative lists, as a user's own data would be.
   */
  format?: "lvis" | "coco";
  onProgress?: (done: number, total: number) => void;
}

export interface SynthResult {
  settings: SynthSettings;
  trainJson: string;
  valJson: string;
  /** Folder the images' `file_name` are relative to (the output folder). */
  imageRoot: string;
  counts: {
    trainImages: number;
    valImages: number;
    trainAnnotations: number;
    valAnnotations: number;
    rare: number;
    common: number;
    frequent: number;
  };
}

const NOT_EXHAUSTIVE_P = 0.15;
const NEG_P = 0.3;
const ENCODE_IN_FLIGHT = 8;

function _seedOf(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) h = Math.imul(h ^ (p >>> 0), 0x01000193) ^ (h >>> 15);
  return h >>> 0;
}

interface _SplitPlan {
  name: "train" | "val";
  firstImageId: number;
  show: number[][];
}

function _plan(name: "train" | "val", counts: number[], s: SynthSettings, firstImageId: number): _SplitPlan {
  const total = counts.reduce((a, b) => a + b, 0);
  const numImages = Math.max(1, Math.ceil(total / s.categoriesPerImage));
  const rng = new Rng(_seedOf(s.seed, name === "train" ? 1 : 2));
  const show = dealCategories({ imageCounts: counts, numImages, maxPerImage: 2 * s.categoriesPerImage, rng });
  return { name, firstImageId, show };
}

/**
 * Generate `train/*.png`, `val/*.png` and `annotations/lvis_v1_{train,val}.json` into `outDir`.
 *
 * @example
 * ```ts
 * import { generateSynthetic } from "./generate.ts";
 * const dir = await Deno.makeTempDir();
 * const out = await generateSynthetic({ outDir: dir, preset: "ci" });
 * out.counts.rare; // 6
 * ```
 */
export async function generateSynthetic(options: SynthOptions): Promise<SynthResult> {
  const { outDir, preset = "default", onProgress, format = "lvis", ...overrides } = options;
  const s: SynthSettings = { ...SYNTH_PRESETS[preset] };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (s as unknown as Record<string, number>)[k] = v;
  const cats = synthCategories({
    count: s.categories,
    rng: new Rng(_seedOf(s.seed, 0)),
    countScale: s.countScale,
    maxFrequentImages: s.maxFrequentImages,
  });
  const trainCounts = cats.map((c) => c.targetTrainImages);
  const valCounts = cats.map((c) => Math.max(s.valMinImages, Math.round(c.targetTrainImages * s.valFraction)));
  const train = _plan("train", trainCounts, s, 1);
  const val = _plan("val", valCounts, s, 1 + train.show.length);
  const total = train.show.length + val.show.length;
  let done = 0;
  const tick = () => onProgress?.(++done, total);
  const coco = format === "coco";
  const trainOut = await _renderSplit(train, cats, s, outDir, tick, coco);
  const valOut = await _renderSplit(val, cats, s, outDir, tick, coco);
  // Category statistics come from the training split as drawn (objects that found no room are not counted).
  const imageCount = new Uint32Array(cats.length);
  const instanceCount = new Uint32Array(cats.length);
  for (const a of trainOut.annotations) instanceCount[a.category_id - 1]++;
  for (const img of trainOut.imageCategories) for (const c of img) imageCount[c]++;
  const categories = cats.map((c, i) =>
    coco ? { id: c.id, name: c.name, supercategory: "shape" } : {
      id: c.id,
      name: c.name,
      synset: `${c.name}.n.01`,
      synonyms: [c.name],
      def: `a ${c.name.replaceAll("_", " ")}`,
      frequency: c.frequency,
      image_count: imageCount[i],
      instance_count: instanceCount[i],
    }
  );
  const info = { description: `tailor synthetic long-tailed dataset (${preset})`, version: "1.0", settings: s };
  if (coco) {
    // COCO has no federated lists: every image is labelled for every category.
    for (const img of [...trainOut.images, ...valOut.images]) {
      delete (img as Partial<_LvisImage>).neg_category_ids;
      delete (img as Partial<_LvisImage>).not_exhaustive_category_ids;
    }
  }
  const [trainName, valName] = coco ? ["instances_train", "instances_val"] : ["lvis_v1_train", "lvis_v1_val"];
  const trainJson = join(outDir, "annotations", `${trainName}.json`);
  const valJson = join(outDir, "annotations", `${valName}.json`);
  await writeJsonAtomic(trainJson, {
    info,
    licenses: [],
    images: trainOut.images,
    annotations: trainOut.annotations,
    categories,
  });
  await writeJsonAtomic(valJson, {
    info,
    licenses: [],
    images: valOut.images,
    annotations: valOut.annotations,
    categories,
  });
  const group = (f: string) => cats.filter((c) => c.frequency === f).length;
  return {
    settings: s,
    trainJson,
    valJson,
    imageRoot: outDir,
    counts: {
      trainImages: trainOut.images.length,
      valImages: valOut.images.length,
      trainAnnotations: trainOut.annotations.length,
      valAnnotations: valOut.annotations.length,
      rare: group("r"),
      common: group("c"),
      frequent: group("f"),
    },
  };
}

interface _LvisImage {
  id: number;
  width: number;
  height: number;
  file_name: string;
  neg_category_ids: number[];
  not_exhaustive_category_ids: number[];
}

interface _LvisAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: number[];
  area: number;
  segmentation: number[][];
  iscrowd: number;
}

async function _renderSplit(
  plan: _SplitPlan,
  cats: readonly SynthCategory[],
  s: SynthSettings,
  outDir: string,
  tick: () => void,
  coco: boolean,
): Promise<{ images: _LvisImage[]; annotations: _LvisAnnotation[]; imageCategories: number[][] }> {
  await Deno.mkdir(join(outDir, plan.name), { recursive: true });
  const images: _LvisImage[] = [];
  const annotations: _LvisAnnotation[] = [];
  const imageCategories: number[][] = [];
  const annIdBase = plan.name === "train" ? 1 : 1 + 10_000_000;
  const inFlight = new Set<Promise<void>>();
  for (let k = 0; k < plan.show.length; k++) {
    const id = plan.firstImageId + k;
    // One generator per image, so any image can be redrawn alone.
    const rng = new Rng(_seedOf(s.seed, plan.name === "train" ? 11 : 12, k));
    const drawn = drawImage({ width: s.imageSize, height: s.imageSize, categories: cats, show: plan.show[k], rng });
    const fileName = `${plan.name}/${String(id).padStart(12, "0")}.png`;
    const present = new Set<number>();
    const perCat = new Map<number, number>();
    for (const o of drawn.objects) perCat.set(o.category, (perCat.get(o.category) ?? 0) + 1);
    const notExhaustive = new Set<number>();
    for (const [c, n] of perCat) if (n >= 2 && rng.float() < NOT_EXHAUSTIVE_P) notExhaustive.add(c);
    const kept = new Set<number>();
    for (const o of drawn.objects) {
      // A not-exhaustive category keeps only its first instance, as in LVIS's federated labels; COCO keeps all.
      if (!coco && notExhaustive.has(o.category) && kept.has(o.category)) continue;
      kept.add(o.category);
      present.add(o.category);
      annotations.push({
        id: annIdBase + annotations.length,
        image_id: id,
        category_id: cats[o.category].id,
        bbox: o.bbox,
        area: o.area,
        segmentation: [o.polygon],
        iscrowd: 0,
      });
    }
    const neg: number[] = [];
    for (let c = 0; c < cats.length; c++) if (!perCat.has(c) && rng.float() < NEG_P) neg.push(cats[c].id);
    images.push({
      id,
      width: s.imageSize,
      height: s.imageSize,
      file_name: fileName,
      neg_category_ids: neg,
      not_exhaustive_category_ids: [...notExhaustive].sort((a, b) => a - b).map((c) => cats[c].id),
    });
    imageCategories.push([...present]);
    const job = sharp(drawn.rgb, { raw: { width: s.imageSize, height: s.imageSize, channels: 3 } })
      .png({ compressionLevel: 4 })
      .toFile(join(outDir, fileName))
      .then(() => {
        inFlight.delete(job);
        tick();
      });
    inFlight.add(job);
    if (inFlight.size >= ENCODE_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { images, annotations, imageCategories };
}
