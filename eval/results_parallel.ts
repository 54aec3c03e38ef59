// A results file read on this thread and a pool's workers in byte ranges; a file the ranges cannot take (masks,
// other keys, errors, images out of runs) is read by `readResults` instead.
import { open } from "node:fs/promises";
import type { GroundTruth } from "./ground_truth.ts";
import { mergeRanges, planRanges, rangeFilter } from "./range_merge.ts";
import { type RangeJob, type RangeOutcome, type RangesRead, type RangeTask, readRanges } from "./results_range.ts";
import { readResults, type ReadResultsOptions, type Results } from "./results_file.ts";
import type { WorkerPool } from "./threads.ts";
import type { WorkerTask } from "./worker_tasks.ts";
import { newWorkQueue, workerJoined } from "./work_queue.ts";

export interface ThreadedReadOptions extends ReadResultsOptions {
  /** Smaller files are read on this thread alone (default 8 MiB: below that, workers gain little). */
  minBytes?: number;
  /** Bytes per range (default 4 MiB): threads take ranges one at a time, so uneven speeds even out. */
  rangeBytes?: number;
}

/** `readResults` on this thread and the pool's workers; only a selecting read (`select`) is shared out. */
export async function readResultsOnThreads(
  path: string,
  gt: GroundTruth,
  options: ThreadedReadOptions = {},
  pool: WorkerPool | null = null,
): Promise<Results> {
  const ranges = await _plan(path, options, pool).catch(() => null);
  if (!ranges) return readResults(path, gt, options);
  // A file the ranges refused would be refused again by readResults' own range reading.
  return (await readRangesOnThreads(ranges, gt, options, pool!)) ??
    readResults(path, gt, { ...options, ranges: false });
}

async function _plan(path: string, options: ThreadedReadOptions, pool: WorkerPool | null) {
  const maxDets = options.select?.maxDets ?? -1;
  if (maxDets < 0 || !pool || pool.size === 0) return null;
  const f = await open(path);
  try {
    const size = (await f.stat()).size;
    if (size < (options.minBytes ?? 8 << 20)) return null;
    return await planRanges(f, path, size, {
      maxDets,
      rangeBytes: options.rangeBytes ?? 4 << 20,
      chunkBytes: options.chunkBytes,
    });
  } finally {
    await f.close();
  }
}

/** Read planned ranges on threads and merge them; null when a range could not be read this way. */
export async function readRangesOnThreads(
  ranges: RangeTask[],
  gt: GroundTruth,
  options: ReadResultsOptions,
  pool: WorkerPool,
): Promise<Results | null> {
  const filter = rangeFilter(gt);
  const job: RangeJob = { ranges, queue: newWorkQueue(pool.size), filter };
  const answers = Array.from(
    { length: pool.size },
    (_, worker) => pool.run<RangesRead>(worker, { kind: "ranges", job, worker } satisfies WorkerTask),
  );
  const mine = readRanges(job, -1);
  // Every range is taken now; a worker that has not joined yet will take none.
  const theirs = await Promise.all(answers.filter((_, w) => workerJoined(job.queue, w)));
  if (theirs.includes(null)) return null;
  const parts = [mine, ...theirs as RangesRead[]];
  const outcomes: RangeOutcome[] = [];
  for (const part of parts) for (const [i, o] of part.outcomes) outcomes[i] = o;
  if (!ranges.every((_, i) => outcomes[i]?.ok)) return null;
  return mergeRanges(ranges, outcomes, parts.map((p) => p.categoryCounts), gt, {
    filter,
    dropUnknown: options.unknownCategories === "drop",
  });
}
