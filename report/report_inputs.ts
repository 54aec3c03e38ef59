// Readers of what a report draws from; each names the file and the JSON path or line of anything malformed.
import { z } from "zod";
import { InputError, quote } from "../core/errors.ts";
import { FREQUENCIES, frequencyOfImageCount } from "../data/dataset.ts";
import { readDatasetCache } from "../data/dataset_cache.ts";

const metricsSchema = z.object({
  results: z.record(z.string(), z.number()),
  per_category: z.array(
    z.object({ id: z.number(), name: z.string().optional(), frequency: z.string().optional(), AP: z.number() }),
  )
    .optional(),
});
export type Metrics = z.infer<typeof metricsSchema>;

const gradSchema = z.object({ loss: z.string(), pos_grad: z.array(z.number()), neg_grad: z.array(z.number()) })
  .refine((g) => g.pos_grad.length === g.neg_grad.length, "expected pos_grad and neg_grad of the same length");
export type GradStats = z.infer<typeof gradSchema>;

const logLineSchema = z.object({ step: z.number(), loss: z.record(z.string(), z.number()) });
export type TrainLogLine = z.infer<typeof logLineSchema>;

export interface CategoryStats {
  id: number;
  name: string;
  frequency: string;
  imageCount: number;
  /** The file had no frequency for it: the group comes from `imageCount` by LVIS's thresholds. */
  derived?: boolean;
}

export async function readMetrics(path: string): Promise<Metrics> {
  return _check(metricsSchema, await _json(path), path);
}

export async function readGradStats(path: string): Promise<GradStats> {
  return _check(gradSchema, await _json(path), path);
}

/** Blank lines are skipped. */
export async function readTrainLog(path: string): Promise<TrainLogLine[]> {
  const text = await _text(path);
  const out: TrainLogLine[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new InputError(`Cannot read line ${i + 1} of ${quote(path)}: not JSON`);
    }
    const parsed = logLineSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(
        `Cannot read "${issue.path.join(".")}" on line ${i + 1} of ${quote(path)}: ${issue.message}`,
      );
    }
    out.push(parsed.data);
  });
  return out;
}

/** JSON files above this are not parsed whole (V8 strings stop near 512 MiB); use the ingest cache instead. */
const MAX_JSON_BYTES = 400 * 1024 * 1024;

/**
 * Categories with their training-image counts, from an LVIS JSON file (`image_count`, else counted from
 * annotations) or from the dataset cache the ingest stage writes (`cachePath`, any size).
 */
export async function readCategoryStats(path: string): Promise<CategoryStats[]> {
  if (await _isDatasetCache(path)) {
    const { categories, assumed } = await readDatasetCache(path, { polygons: false });
    return Array.from(categories.ids, (id, i) => ({
      id,
      name: categories.names[i],
      frequency: FREQUENCIES[categories.frequency[i]] ?? "?",
      imageCount: categories.imageCount[i],
      ...(assumed.frequency ? { derived: true } : {}),
    }));
  }
  const json = await _json(path) as {
    categories?: { id: number; name?: string; frequency?: string; image_count?: number }[];
    annotations?: { image_id: number; category_id: number }[];
  };
  if (!Array.isArray(json.categories)) {
    throw new InputError(`Cannot read "categories" in ${quote(path)}: expected a list`);
  }
  let counted: Map<number, number> | undefined;
  if (json.categories.some((c) => typeof c.image_count !== "number")) {
    const images = new Map<number, Set<number>>();
    for (const a of json.annotations ?? []) {
      if (!images.has(a.category_id)) images.set(a.category_id, new Set());
      images.get(a.category_id)!.add(a.image_id);
    }
    counted = new Map([...images].map(([k, v]) => [k, v.size]));
  }
  return json.categories.map((c) => {
    const imageCount = c.image_count ?? counted?.get(c.id) ?? 0;
    // A COCO file has no groups: LVIS's, from the training images, as ingestion derives them.
    if (c.frequency === undefined) {
      return {
        id: c.id,
        name: c.name ?? String(c.id),
        frequency: frequencyOfImageCount(imageCount),
        imageCount,
        derived: true,
      };
    }
    return { id: c.id, name: c.name ?? String(c.id), frequency: c.frequency, imageCount };
  });
}

async function _isDatasetCache(path: string): Promise<boolean> {
  try {
    using file = await Deno.open(path);
    const head = new Uint8Array(8);
    const n = await file.read(head);
    return n === 8 && new TextDecoder().decode(head) === "TAILRDS1";
  } catch {
    return false;
  }
}

async function _text(path: string): Promise<string> {
  try {
    const { size } = await Deno.stat(path);
    if (size > MAX_JSON_BYTES) {
      throw new Error(
        `${(size / 2 ** 20).toFixed(0)} MiB is too large to parse whole; pass the ingest stage's cachePath`,
      );
    }
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new InputError(`Cannot read ${quote(path)}: ${(e as Error).message}`);
  }
}

async function _json(path: string): Promise<unknown> {
  const text = await _text(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`Cannot read ${quote(path)}: ${(e as Error).message}`);
  }
}

function _check<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InputError(`Cannot read "${issue.path.join(".")}" in ${quote(path)}: ${issue.message}`);
}
