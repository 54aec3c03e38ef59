import assert from "node:assert/strict";
import { evaluate, readGroundTruth, readResults, writeSyntheticCase } from "../../eval/mod.ts";
import type { GroundTruth, Results } from "../../eval/mod.ts";
import { categoryJob, evaluateOnThreads } from "../../eval/evaluate_threads.ts";
import { prepareEvaluation } from "../../eval/evaluate.ts";
import { finishRangeRead, prefetchResults, startRangeRead } from "../../eval/results_parallel.ts";
import { WorkerPool } from "../../eval/threads.ts";
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

Deno.test(`prefetchResults() reads ranges on workers into readResults()'s selection, runs across cuts included (seed ${SEED})`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_ranges_" });
  const pool = new WorkerPool(2);
  try {
    const c = await smallCase(dir, 50);
    const r = rng(31);
    for (let round = 0; round < 4; round++) {
      // Ranges of 5-50 results, so most image runs (15-70 results) cross a cut; a cap that cuts ties.
      const maxDets = 8 + r.int(40), rangeBytes = 400 + r.int(3600);
      const options = { select: { maxDets }, minBytes: 0, rangeBytes };
      const read = await startRangeRead(c.dt, options, pool);
      assert.ok(read && read.job.ranges.length > 20, "cut into many ranges");
      // Every other round the workers read every range before this thread joins in.
      if (round % 2 === 0) assert.ok((await Promise.all(read.answers)).flat().length === read.job.ranges.length);
      const got = await finishRangeRead(read, c.gt);
      assert.ok(got, "read in ranges");
      const want = await readResults(c.dt, c.gt, options);
      assert.ok(want.selected && want.selected.afterLimits < want.selected.inFile, "the cap cuts");
      assertSameResults(got, want);
      assertSameResults(await prefetchResults(c.dt, options, pool)(c.gt), want);
    }
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prefetchResults() leaves other files to readResults(), which names their errors", async () => {
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
        const want = await readResults(path, c.gt, options).catch((e: Error) => e);
        const got = await prefetchResults(path, options, pool)(c.gt).catch((e: Error) => e);
        if (want instanceof Error) assert.equal((got as Error).message, want.message, name);
        else assertSameResults(got as Results, want);
        const read = await startRangeRead(path, options, pool);
        const inRanges = read && await finishRangeRead(read, c.gt);
        // Only the pretty-printed file and (dropped) unknown categories are plain enough for ranges.
        const plain = name === "pretty" || (name === "unknown category" && unknownCategories === "drop");
        assert.equal(inRanges !== null, plain, `${name}, ${unknownCategories}`);
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
