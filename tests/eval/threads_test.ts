import assert from "node:assert/strict";
import { evaluate, lvisEvalAll, readGroundTruth, readResults, writeSyntheticCase } from "../../eval/mod.ts";
import type { GroundTruth, Results } from "../../eval/mod.ts";
import { categoryJob, evaluateOnThreads } from "../../eval/evaluate_threads.ts";
import { prepareEvaluation } from "../../eval/evaluate.ts";
import { readRangesOnThreads, readResultsOnThreads } from "../../eval/results_parallel.ts";
import { mergeRanges, planRanges, rangeFilter, readInRange } from "../../eval/range_merge.ts";
import type { RangeOutcome, RangesRead } from "../../eval/results_range.ts";
import { newWorkQueue } from "../../eval/work_queue.ts";
import { open } from "node:fs/promises";
import { setWorkerSpawner, WorkerPool } from "../../eval/threads.ts";
import { rng, SEED } from "./_util.ts";

/** Every field a reader fills, compared value for value. */
function assertSameResults(got: Results, want: Results): void {
  assert.equal(got.count, want.count);
  for (const key of ["image", "category", "score", "bbox", "hasBbox"] as const) {
    assert.deepEqual(Array.from(got[key]), Array.from(want[key]), key);
  }
  assert.deepEqual(got.selected, want.selected);
  assert.equal(got.unknownCategories ?? 0, want.unknownCategories ?? 0);
}

/** A synthetic case whose image runs span several small ranges. */
async function smallCase(dir: string, images: number) {
  const c = await writeSyntheticCase(dir, {
    images,
    seed: SEED,
    groups: [6, 8, 7],
    resultsPerImage: [15, 70],
    boxesPerImage: 5,
  });
  return { ...c, gt: await readGroundTruth(c.gt, false) };
}

Deno.test(`readResultsOnThreads() reads ranges on workers into readResults()'s selection, runs across cuts included (seed ${SEED})`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_ranges_" });
  const pool = new WorkerPool(2);
  try {
    const c = await smallCase(dir, 50);
    const r = rng(31);
    for (let round = 0; round < 4; round++) {
      // Ranges of 5-50 results, so most image runs (15-70 results) cross a cut; a cap that cuts ties.
      const maxDets = 8 + r.int(40), rangeBytes = 400 + r.int(3600), chunkBytes = 300 + r.int(3000);
      const options = { select: { maxDets }, minBytes: 0, rangeBytes, chunkBytes };
      // The general reader is the reference.
      const want = await readResults(c.dt, c.gt, { ...options, ranges: false });
      assert.ok(want.selected && want.selected.afterLimits < want.selected.inFile, "the cap cuts");
      assertSameResults(await readResultsOnThreads(c.dt, c.gt, options, pool), want);
      // The workers alone: they take every range before this thread asks for one.
      const f = await open(c.dt);
      const ranges = await planRanges(f, c.dt, (await f.stat()).size, { maxDets, rangeBytes, chunkBytes });
      await f.close();
      assert.ok(ranges.length > 20, "cut into many ranges");
      const job = { ranges, queue: newWorkQueue(2), filter: rangeFilter(c.gt) };
      const parts = await Promise.all(
        [0, 1].map((worker) => pool.run<RangesRead>(worker, { kind: "ranges", job, worker })),
      );
      assert.equal(parts.reduce((n, p) => n + p!.outcomes.length, 0), ranges.length);
      const outcomes: RangeOutcome[] = [];
      for (const p of parts) for (const [i, o] of p!.outcomes) outcomes[i] = o;
      const counts = parts.map((p) => p!.categoryCounts);
      assertSameResults(mergeRanges(ranges, outcomes, counts, c.gt, { filter: job.filter, dropUnknown: false })!, want);
      // This thread alone, in one range.
      assertSameResults((await readInRange(c.dt, c.gt, options))!, want);
    }
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readResultsOnThreads() leaves other files to readResults(), which names their errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_ranges_" });
  const pool = new WorkerPool(2);
  try {
    const c = await smallCase(dir, 12);
    const items: Record<string, unknown>[] = JSON.parse(await Deno.readTextFile(c.dt));
    const mid = items.length >> 1;
    const variants: [string, string][] = [
      ["extra key", JSON.stringify(items.map((o, i) => (i === mid ? { ...o, extra: [1, "x"] } : o)))],
      ["runs split", JSON.stringify([...items.slice(mid), ...items.slice(0, mid)].concat(items.slice(0, 1)))],
      ["unknown category", JSON.stringify(items.map((o, i) => (i === mid ? { ...o, category_id: 999 } : o)))],
      ["unknown image", JSON.stringify(items.map((o, i) => (i === mid ? { ...o, image_id: 123456 } : o)))],
      ["negative width", JSON.stringify(items.map((o, i) => (i === mid ? { ...o, bbox: [1, 2, -3, 4] } : o)))],
      ["cut short", JSON.stringify(items).slice(0, -40)],
      ["empty", "[]"],
      ["pretty", JSON.stringify(items, null, 2)],
    ];
    for (const [name, text] of variants) {
      const path = `${dir}/${name.replace(" ", "_")}.json`;
      await Deno.writeTextFile(path, text);
      for (const unknownCategories of ["error", "drop"] as const) {
        const options = { select: { maxDets: 20 }, minBytes: 0, rangeBytes: 500, unknownCategories };
        const want = await readResults(path, c.gt, { ...options, ranges: false }).catch((e: Error) => e);
        for (
          const read of [() => readResultsOnThreads(path, c.gt, options, pool), () => readResults(path, c.gt, options)]
        ) {
          const g = await read().catch((e: Error) => e);
          if (want instanceof Error) assert.equal((g as Error).message, want.message, name);
          else assertSameResults(g as Results, want);
        }
        // Only the pretty-printed file and (dropped) unknown categories are plain enough for ranges.
        const plain = name === "pretty" || (name === "unknown category" && unknownCategories === "drop");
        const f = await open(path);
        const ranges = await planRanges(f, path, (await f.stat()).size, { maxDets: 20, rangeBytes: 500 });
        await f.close();
        const inRanges = await readRangesOnThreads(ranges, c.gt, options, pool);
        assert.equal(inRanges !== null, plain, `${name}, ${unknownCategories}`);
        assert.equal(await readInRange(path, c.gt, options) !== null, plain, `${name}, ${unknownCategories}`);
      }
    }
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The arrays of a state, for comparison. */
function stateArrays(s: ReturnType<typeof evaluate>) {
  const p = s.pooled;
  return {
    precision: Array.from(s.precision),
    recall: Array.from(s.recall),
    numGt: Array.from(s.numGt),
    present: Array.from(s.present),
    counts: s.counts,
    pooled: p && [p.score, p.image, p.category, p.rank, p.status].map((a) => Array.from(a)),
  };
}

Deno.test(`evaluateOnThreads() fills categories on workers into evaluate()'s state, bit for bit (seed ${SEED})`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_threads_" });
  const pool = new WorkerPool(2);
  try {
    const c = await smallCase(dir, 60);
    const r = rng(37);
    const gt: GroundTruth = c.gt;
    const dt = await readResults(c.dt, gt);
    const ids = Array.from(gt.categoryIds).filter(() => r.float() < 0.6);
    for (const options of [{}, { maxDets: 20, pooled: true }, { maxDets: -1, detsPerCat: 30 }, { categoryIds: ids }]) {
      const want = evaluate(gt, dt, options);
      // Not vacuous: categories with ground truth and detections, so real curves.
      assert.ok(want.present.reduce((a, b) => a + b, 0) > 5 && want.counts.dtUsed > 100);
      assert.deepEqual(stateArrays(await evaluateOnThreads(gt, dt, options, pool)), stateArrays(want));
      // The workers alone, each taking chunks until none is left.
      const { state, context } = prepareEvaluation(gt, dt, options);
      const job = categoryJob(state, context, 2)!;
      const counts = await Promise.all([0, 1].map((worker) => pool.run(worker, { kind: "categories", job, worker })));
      assert.equal((counts as number[]).reduce((a, b) => a + b), want.evaluated.reduce((a, b) => a + b, 0));
      assert.deepEqual(stateArrays(state), stateArrays(want), JSON.stringify(options));
    }
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(`lvisEvalAll() does a failed worker's share itself and says so, same numbers (seed ${SEED})`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_fail_" });
  // One worker that cannot start, one that fails on its first task, one that works.
  let n = 0;
  const real = setWorkerSpawner(() => {
    const which = n++ % 3;
    if (which === 0) throw new Error("no threads here");
    if (which === 2) return real();
    let callback: (m: unknown) => void = () => {};
    return {
      postMessage: () => queueMicrotask(() => callback(new Error("worker crashed\nat somewhere"))),
      listen: (c) => void (callback = c),
      terminate: () => {},
    };
  });
  try {
    const c = await writeSyntheticCase(dir, { images: 60, seed: SEED, groups: [6, 8, 7], resultsPerImage: [15, 70] });
    const want = await lvisEvalAll(c.gt, [c.dt], { threads: 1 });
    const got = await lvisEvalAll(c.gt, [c.dt], { threads: 4 });
    assert.ok(want.reports[0].report.results.AP > 0);
    assert.deepEqual(got.reports, want.reports);
    assert.deepEqual(got.notes.filter((s) => s.includes("worker")), [
      "a worker thread stopped (no threads here): its work was done here",
      "a worker thread stopped (worker crashed): its work was done here",
    ]);
    assert.deepEqual(want.notes, got.notes.filter((s) => !s.includes("worker")));
  } finally {
    setWorkerSpawner(real);
    await Deno.remove(dir, { recursive: true });
  }
});
