/**
 * Reading a results file on worker threads while the caller reads the ground truth: the file is cut into
 * byte ranges at element boundaries, each range is read by `readRange` (raw ids, each image run capped) on
 * whichever thread takes it first, and once the ground truth is there one pass resolves the ids, caps the
 * runs that cross a cut and applies the federated filter. The outcome is, row for row, the one `readResults`
 * gives with `select`; a file the ranges cannot take (masks, other keys, errors, images out of runs) is
 * read by `readResults` instead.
 */
import { type FileHandle, open } from "node:fs/promises";
import { type GroundTruth, NEGATIVE, POSITIVE } from "./ground_truth.ts";
import {
  capRows,
  columnViews,
  MAX_RANGE_CATEGORY_ID,
  moveRow,
  newColumnBuffers,
  type RangeJob,
  type RangeOutcome,
  type RangeTask,
  readRanges,
} from "./results_range.ts";
import { readResults, type ReadResultsOptions, type Results } from "./results_file.ts";
import { CapScratch } from "./select.ts";
import { sharedUint8 } from "./shared_arrays.ts";
import { MIN_PLAIN_BYTES } from "./plain_result.ts";
import type { WorkerPool } from "./threads.ts";
import type { WorkerTask } from "./worker_tasks.ts";
import { newWorkQueue, workerJoined } from "./work_queue.ts";

/** Options of `prefetchResults`, beyond `readResults`'s. */
export interface PrefetchOptions extends ReadResultsOptions {
  /** Smaller files are read the sequential way (default 8 MiB: below that, workers gain little). */
  minBytes?: number;
  /** Bytes per range (default 4 MiB): threads take ranges one at a time, so uneven speeds even out. */
  rangeBytes?: number;
}

/**
 * Start reading a results file on the pool's workers; the returned function completes the read on this
 * thread once the ground truth is known. Only a selecting read (`select`, as `readOptionsFor` gives for the
 * default limits) is done in ranges; without a pool, or for anything else, the function calls `readResults`.
 *
 * @returns a function from the ground truth to the results `readResults(path, gt, options)` would give
 * @example
 * ```ts
 * const pool = new WorkerPool(1);
 * const finish = prefetchResults("results.json", { select: { maxDets: 300 } }, pool);
 * const dt = await finish(await readGroundTruth("lvis_v1_val.json", false));
 * pool.close();
 * ```
 */
export function prefetchResults(
  path: string,
  options: PrefetchOptions = {},
  pool: WorkerPool | null = null,
): (gt: GroundTruth) => Promise<Results> {
  // Errors are left for readResults to name, with the ground truth known.
  const started = startRangeRead(path, options, pool).catch(() => null);
  return async (gt) => {
    const read = await started;
    return (read && (await finishRangeRead(read, gt))) ?? readResults(path, gt, options);
  };
}

/** A read in ranges under way (see `startRangeRead`). */
export interface RangeRead {
  path: string;
  maxDets: number;
  dropUnknown: boolean;
  job: RangeJob;
  /** Each worker's ranges, once it answers. */
  answers: Promise<[number, RangeOutcome][] | null>[];
}

/**
 * Cut the file into ranges and set the pool's workers reading them.
 *
 * @returns the read under way, or null when the file is not read in ranges (no pool, no `select`, smaller
 *   than `minBytes`, unreadable)
 * @example
 * ```ts
 * const read = await startRangeRead("results.json", { select: { maxDets: 300 } }, pool);
 * ```
 */
export async function startRangeRead(
  path: string,
  options: PrefetchOptions,
  pool: WorkerPool | null,
): Promise<RangeRead | null> {
  const maxDets = options.select?.maxDets ?? -1;
  if (maxDets < 0 || !pool || pool.size === 0) return null;
  let bounds: number[];
  try {
    const f = await open(path);
    try {
      const size = (await f.stat()).size;
      if (size < (options.minBytes ?? 8 << 20)) return null;
      bounds = [0, ...await _findCuts(f, size, Math.ceil(size / (options.rangeBytes ?? 4 << 20))), size];
    } finally {
      await f.close();
    }
  } catch {
    return null;
  }
  // Each range gets rows for as many elements as its bytes could hold, so no range ever runs out.
  const rowStarts = [0];
  for (let i = 1; i < bounds.length; i++) {
    rowStarts.push(rowStarts[i - 1] + Math.floor((bounds[i] - bounds[i - 1]) / MIN_PLAIN_BYTES) + 1);
  }
  const buffers = newColumnBuffers(rowStarts[rowStarts.length - 1]);
  const ranges: RangeTask[] = bounds.slice(0, -1).map((start, i) => ({
    path,
    start,
    end: bounds[i + 1],
    first: i === 0,
    last: i === bounds.length - 2,
    maxDets,
    buffers,
    rowStart: rowStarts[i],
    rowEnd: rowStarts[i + 1],
  }));
  const job: RangeJob = { ranges, queue: newWorkQueue(pool.size) };
  const answers = Array.from(
    { length: pool.size },
    (_, worker) => pool.run<[number, RangeOutcome][]>(worker, { kind: "ranges", job, worker } satisfies WorkerTask),
  );
  return { path, maxDets, dropUnknown: options.unknownCategories === "drop", job, answers };
}

/**
 * Read the ranges still left on this thread, wait for the workers' and merge.
 *
 * @returns the results `readResults` gives with `select`, or null when a range could not be read this way
 *   (the caller then reads the file with `readResults`, which also names any error)
 * @example
 * ```ts
 * const dt = (read && await finishRangeRead(read, gt)) ?? await readResults(path, gt, options);
 * ```
 */
export async function finishRangeRead(read: RangeRead, gt: GroundTruth): Promise<Results | null> {
  const { job } = read;
  const mine = readRanges(job, -1);
  // Every range is taken now; a worker that has not joined yet will take none.
  const joined = read.answers.filter((_, w) => workerJoined(job.queue, w));
  const outcomes: RangeOutcome[] = [];
  for (const part of [mine, ...(await Promise.all(joined))]) for (const [i, o] of part ?? []) outcomes[i] = o;
  if (!job.ranges.every((_, i) => outcomes[i]?.ok)) return null;
  return _merge(job.ranges, outcomes, gt, read);
}

/**
 * Byte offsets that cut the file into `parts` ranges of about equal size, each at an element's `{` after
 * `},`; fewer where a window holds no such place. Only a plausible cut: the range readers check it.
 */
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

/** Resolve, cap and filter the ranges' rows into `readResults`'s selected layout; null to read sequentially. */
function _merge(tasks: RangeTask[], outcomes: RangeOutcome[], gt: GroundTruth, read: RangeRead): Results | null {
  const { path, maxDets, dropUnknown } = read;
  const K = gt.categoryIds.length, flags = gt.imageCategoryFlags;
  const lookup = new Int32Array(MAX_RANGE_CATEGORY_ID).fill(-1);
  gt.categoryIds.forEach((id, k) => {
    if (Number.isInteger(id) && id >= 0 && id < MAX_RANGE_CATEGORY_ID) lookup[id] = k;
  });
  let unknownCategories = 0, inFile = 0;
  for (const o of outcomes) {
    inFile += o.elements;
    for (let j = 0; j < o.categories.length; j += 2) {
      if (lookup[o.categories[j]] < 0) unknownCategories += o.categories[j + 1];
    }
  }
  // Unknown categories are named by the sequential reader; an empty list too.
  if ((unknownCategories && !dropUnknown) || inFile === 0) return null;
  const cols = columnViews(tasks[0].buffers);
  const seen = new Uint8Array(gt.imageIds.length);
  const scratch = { keep: new Uint8Array(1024), cap: new CapScratch() };
  const runs = outcomes.flatMap((o) => Array.from({ length: o.runs.length / 4 }, (_, r) => o.runs.subarray(4 * r)));
  let to = 0, afterLimits = 0;
  for (let r = 0; r < runs.length;) {
    // One image's run: one piece, or pieces in consecutive ranges.
    const imageId = runs[r][0];
    let e = r + 1;
    while (e < runs.length && runs[e][0] === imageId) e++;
    const img = gt.imageIndex.get(imageId);
    if (img === undefined || seen[img]) return null;
    seen[img] = 1;
    let s0 = runs[r][1], s1 = runs[r][2];
    if (e - r > 1) {
      // Gather the pieces at `to` (each lies at or after it), then cap them together.
      let at = to;
      for (let q = r; q < e; q++) for (let j = runs[q][1]; j < runs[q][2]; j++) moveRow(cols, j, at++);
      (s0 = to, s1 = capRows(cols, to, at, maxDets, scratch));
    } else if (runs[r][3] === 0) s1 = capRows(cols, s0, s1, maxDets, scratch);
    afterLimits += s1 - s0;
    const row = img * K;
    for (let j = s0; j < s1; j++) {
      const cat = lookup[cols.category[j]];
      if (cat < 0 || !(flags[row + cat] & (POSITIVE | NEGATIVE))) continue;
      moveRow(cols, j, to);
      cols.category[to] = cat;
      cols.image[to++] = img;
    }
    r = e;
  }
  return {
    file: path,
    count: to,
    image: cols.image.subarray(0, to),
    category: cols.category.subarray(0, to),
    score: cols.score.subarray(0, to),
    bbox: cols.bbox.subarray(0, 4 * to),
    hasBbox: sharedUint8(to).fill(1),
    segmentation: null,
    unknownCategories,
    selected: { maxDets, inFile, afterLimits, firstHasBbox: true, firstWithoutMask: 0 },
  };
}
