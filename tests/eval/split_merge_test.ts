import assert from "node:assert/strict";
import {
  categoryShard,
  evaluate,
  mergeStates,
  readGroundTruth,
  readResults,
  readState,
  reportFromState,
  writeState,
  writeSyntheticCase,
} from "../../eval/mod.ts";
import { SEED } from "./_util.ts";

Deno.test("mergeStates() of category shards written to disk gives exactly the single-process numbers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_split_" });
  try {
    const c = await writeSyntheticCase(dir, {
      images: 40,
      seed: SEED,
      groups: [12, 15, 13],
      resultsPerImage: [20, 45],
      boxesPerImage: 6,
    });
    const gt = await readGroundTruth(c.gt, false);
    const dt = await readResults(c.dt, gt);
    for (const options of [{ maxDets: 30 }, { maxDets: -1, detsPerCat: 25 }]) {
      const whole = evaluate(gt, dt, { ...options, pooled: true });
      const shards = 3;
      const parts = [];
      for (let i = 0; i < shards; i++) {
        const path = `${dir}/part${i}.json`;
        await writeState(
          path,
          evaluate(gt, dt, { ...options, pooled: true, categoryIds: categoryShard(gt, i, shards) }),
        );
        parts.push(await readState(path));
      }
      const merged = mergeStates(parts.reverse());
      assert.deepEqual(merged.precision, whole.precision);
      assert.deepEqual(merged.recall, whole.recall);
      assert.deepEqual(merged.numGt, whole.numGt);
      assert.deepEqual(merged.counts, whole.counts);
      const a = reportFromState(merged, { pooled: true }), b = reportFromState(whole, { pooled: true });
      assert.deepEqual(a.results, b.results);
      assert.deepEqual(a.per_category, b.per_category);
      // Not vacuous: the case has valid APs and a shard alone differs.
      assert.ok(b.results.AP > 0 && b.results["AP-pooled-all"] > 0);
      assert.notDeepEqual(reportFromState(parts[0], { pooled: true }).results, b.results);
    }
    assert.throws(() => mergeStates([evaluate(gt, dt), evaluate(gt, dt)]), /also in an earlier one/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
