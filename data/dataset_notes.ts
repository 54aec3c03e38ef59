// What tailor assumed about a dataset lacking LVIS's fields, in words for logs and reports.
import { basename } from "node:path";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { COMMON_MAX_IMAGES, type Dataset, FREQUENCIES, type Frequency, RARE_MAX_IMAGES } from "./dataset.ts";

export const FREQUENCY_RULE =
  `LVIS's thresholds: rare 1-${RARE_MAX_IMAGES} training images, common ${RARE_MAX_IMAGES + 1}-${COMMON_MAX_IMAGES}, ` +
  `frequent > ${COMMON_MAX_IMAGES}`;

export const EXHAUSTIVE_RULE =
  "every image is taken as exhaustively labelled for every category (COCO's semantics: a category not annotated " +
  "in an image is absent from it)";

/** One line per assumption made about `ds`, naming its file; none for a complete LVIS file. */
export function datasetNotes(ds: Dataset): string[] {
  const name = JSON.stringify(basename(ds.source));
  const notes: string[] = [];
  if (ds.assumed.frequency) {
    notes.push(
      `${name} has no category frequency: each category's group comes from the images it is annotated in ` +
        `(${FREQUENCY_RULE}): ${groupCounts(ds.categories.frequency)}`,
    );
  }
  if (ds.assumed.exhaustive) {
    notes.push(`${name} has no neg_category_ids or not_exhaustive_category_ids: ${EXHAUSTIVE_RULE}`);
  }
  return notes;
}

export function groupCounts(frequency: ArrayLike<number>): string {
  const n = [0, 0, 0];
  for (let i = 0; i < frequency.length; i++) n[frequency[i]]++;
  return `${n[0]} rare, ${n[1]} common, ${n[2]} frequent`;
}

/** The training set's image count and frequency group per category id of `ids`; a category it lacks is rare with 0. */
export function frequenciesFromTraining(
  train: Dataset,
  ids: readonly number[],
): { id: number; imageCount: number; frequency: Frequency }[] {
  const index = new Map(Array.from(train.categories.ids, (id, i) => [id, i]));
  return ids.map((id) => {
    const i = index.get(id);
    if (i === undefined) return { id, imageCount: 0, frequency: "r" as const };
    return { id, imageCount: train.categories.imageCount[i], frequency: FREQUENCIES[train.categories.frequency[i]] };
  });
}

/**
 * Copy `source` to `out` with each category's `frequency` and `image_count` from `train`, so that an evaluation
 * groups categories as LVIS does, by training images. Returns the note to show.
 */
export async function writeTrainingFrequencies(source: string, train: Dataset, out: string): Promise<string> {
  let json: { categories?: unknown };
  try {
    json = JSON.parse(await Deno.readTextFile(source));
  } catch (e) {
    throw new InputError(`Cannot read ${JSON.stringify(source)}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!Array.isArray(json.categories)) {
    throw new InputError(`Cannot read "categories" in ${JSON.stringify(source)}: expected a list`);
  }
  const categories = json.categories as Record<string, unknown>[];
  const groups = frequenciesFromTraining(train, categories.map((c) => Number(c.id)));
  categories.forEach((c, i) => {
    c.frequency = groups[i].frequency;
    c.image_count = groups[i].imageCount;
  });
  await writeJsonAtomic(out, json);
  const codes = groups.map((g) => FREQUENCIES.indexOf(g.frequency));
  return `the frequency groups of ${JSON.stringify(basename(source))} come from the training images of each ` +
    `category in ${JSON.stringify(basename(train.source))} (${FREQUENCY_RULE}): ${groupCounts(codes)}`;
}
