// Merges byte ranges (`results_range.ts`) into what `readResults` gives with `select`, row for row, checking what
// ranges could not (images known and in one run, categories known) and capping runs that cross a cut.
import { type FileHandle, stat } from "node:fs/promises";
import type { GroundTruth } from "./ground_truth.ts";
import { MIN_PLAIN_BYTES } from "./plain_result.ts";
import {
  capRows,
  type ColumnBuffers,
  columnViews,
  filterRows,
  MAX_RANGE_CATEGORY_ID,
  moveRow,
  newColumnBuffers,
  type RangeFilter,
  type RangeOutcome,
  RangeScratch,
  type RangeTask,
  readRange,
  RUN_CAPPED,
  RUN_FILTERED,
  RUN_WHOLE,
} from "./results_range.ts";
import { CapScratch } from "./select.ts";
import type { ReadResultsOptions, Results } from "./results_file.ts";
import { sharedUint8 } from "./shared_arrays.ts";

/** Cut `[0, size)` into ranges of about `rangeBytes` at element boundaries, rows for as many elements as fit. */
export async function planRanges(
  f: FileHandle | null,
  path: string,
  size: number,
  options: { maxDets: number; rangeBytes: number; chunkBytes?: number },
): Promise<RangeTask[]> {
  const parts = Math.ceil(size / options.rangeBytes);
  const bounds = [0, ...(f && parts > 1 ? await _findCuts(f, size, parts) : []), size];
  const rowStarts = [0];
  for (let i = 1; i < bounds.length; i++) {
    rowStarts.push(rowStarts[i - 1] + Math.floor((bounds[i] - bounds[i - 1]) / MIN_PLAIN_BYTES) + 1);
  }
  const buffers: ColumnBuffers = newColumnBuffers(rowStarts[rowStarts.length - 1]);
  return bounds.slice(0, -1).map((start, i) => ({
    path,
    start,
    end: bounds[i + 1],
    first: i === 0,
    last: i === bounds.length - 2,
    maxDets: options.maxDets,
    buffers,
    rowStart: rowStarts[i],
    rowEnd: rowStarts[i + 1],
    chunkBytes: options.chunkBytes,
  }));
}

/** Cut points at an element's `{` after `},`; only plausible: the range readers check them. */
async function _findCuts(f: FileHandle, size: number, parts: number): Promise<number[]> {
  const cuts: number[] = [];
  const window = new Uint8Array(1 << 16);
  for (let i = 1; i < parts; i++) {
    const target = Math.floor((size * i) / parts);
    const { bytesRead } = await f.read(window, 0, window.length, target);
    const b = window.subarray(0, bytesRead);
    for (let p = 0; p < b.length; p++) {
      if (b[p] !== 123) continue;
      let q = p - 1;
      while (q >= 0 && b[q] <= 32) q--;
      if (q < 0 || b[q] !== 44) continue;
      q--;
      while (q >= 0 && b[q] <= 32) q--;
      if (q >= 0 && b[q] === 125 && target + p > (cuts[cuts.length - 1] ?? 0)) {
        cuts.push(target + p);
        break;
      }
    }
  }
  return cuts;
}

export function rangeFilter(gt: GroundTruth): RangeFilter {
  const lookup = new Int32Array(MAX_RANGE_CATEGORY_ID).fill(-1);
  gt.categoryIds.forEach((id, k) => {
    if (Number.isInteger(id) && id >= 0 && id < MAX_RANGE_CATEGORY_ID) lookup[id] = k;
  });
  return {
    imageIndex: gt.imageIndex,
    categoryLookup: lookup,
    flags: gt.imageCategoryFlags,
    categories: gt.categoryIds.length,
  };
}

/** One range on this thread, the ground truth known: `readResults`'s fast path; null when not read this way. */
export async function readInRange(path: string, gt: GroundTruth, options: ReadResultsOptions): Promise<Results | null> {
  const maxDets = options.select?.maxDets ?? -1;
  if (maxDets < 0) return null;
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return null;
  }
  const [task] = await planRanges(null, path, size, { maxDets, rangeBytes: Infinity, chunkBytes: options.chunkBytes });
  const filter = rangeFilter(gt), scratch = new RangeScratch(options.chunkBytes);
  const outcome = readRange(task, filter, scratch);
  if (!outcome.ok) return null;
  return mergeRanges([task], [outcome], [scratch.categoryCounts], gt, {
    filter,
    dropUnknown: options.unknownCategories === "drop",
  });
}

/**
 * Merge what the ranges of one file held; null when the file must be read the general way (an image the ground
 * truth lacks or in two runs, an unknown category unless `dropUnknown`, an empty list).
 */
export function mergeRanges(
  tasks: RangeTask[],
  outcomes: RangeOutcome[],
  categoryCounts: Int32Array[],
  gt: GroundTruth,
  options: { filter: RangeFilter; dropUnknown: boolean },
): Results | null {
  const { filter } = options, lookup = filter.categoryLookup;
  let unknownCategories = 0, inFile = 0;
  for (const o of outcomes) inFile += o.elements;
  for (const counts of categoryCounts) {
    for (let id = 0; id < counts.length; id++) if (counts[id] && lookup[id] < 0) unknownCategories += counts[id];
  }
  // The general reader names unknown categories and an empty list.
  if ((unknownCategories && !options.dropUnknown) || inFile === 0) return null;
  const cols = columnViews(tasks[0].buffers);
  const seen = new Uint8Array(gt.imageIds.length);
  const scratch = { keep: new Uint8Array(1024), cap: new CapScratch() };
  // Runs as integers (row numbers from a Float64Array would make every index below a double).
  const runs = outcomes.flatMap((o) => Array.from({ length: o.runs.length / 5 }, (_, r) => o.runs.subarray(5 * r)));
  let to = 0, afterLimits = 0;
  for (let r = 0; r < runs.length;) {
    // One image's run: one piece, or pieces left whole at the edges of consecutive ranges.
    const imageId = runs[r][0];
    let e = r + 1;
    while (e < runs.length && runs[e][0] === imageId) e++;
    const img = filter.imageIndex.get(imageId);
    if (img === undefined || seen[img]) return null;
    seen[img] = 1;
    const s = runs[r][1] | 0, end = runs[r][2] | 0, state = runs[r][3] | 0, kept = runs[r][4] | 0;
    // Only runs left whole continue across a cut.
    if (state !== RUN_WHOLE && e - r > 1) return null;
    if (state === RUN_FILTERED) {
      afterLimits += kept;
      for (let j = s; j < end; j++) (moveRow(cols, j, to), cols.image[to++] = img);
    } else if (state === RUN_CAPPED) {
      afterLimits += kept;
      to = filterRows(cols, s, end, img, to, filter);
    } else {
      // Gather the pieces at `to` (each lies at or after it), then cap and filter them together.
      let at = to;
      for (let q = r; q < e; q++) for (let j = runs[q][1] | 0; j < (runs[q][2] | 0); j++) moveRow(cols, j, at++);
      const capped = capRows(cols, to, at, tasks[0].maxDets, scratch);
      afterLimits += capped - to;
      to = filterRows(cols, to, capped, img, to, filter);
    }
    r = e;
  }
  return {
    file: tasks[0].path,
    count: to,
    image: cols.image.subarray(0, to),
    category: cols.category.subarray(0, to),
    score: cols.score.subarray(0, to),
    bbox: cols.bbox.subarray(0, 4 * to),
    hasBbox: sharedUint8(to).fill(1),
    segmentation: null,
    unknownCategories,
    selected: { maxDets: tasks[0].maxDets, inFile, afterLimits, firstHasBbox: true, firstWithoutMask: 0 },
  };
}
