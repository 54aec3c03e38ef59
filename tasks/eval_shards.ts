/**
 * `eval` with `shards: N`: each part evaluates every N-th category (the
 * evaluator's category shards) and writes its partial state; the merge joins
 * the states exactly and writes the metrics file of the unsharded stage, bit
 * for bit, as matching and accumulation never mix categories.
 */
import { join } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { evaluate } from "../eval/evaluate.ts";
import { readGroundTruth } from "../eval/ground_truth.ts";
import { categoryShard, reportFromState } from "../eval/lvis_eval.ts";
import { mergeStates } from "../eval/merge.ts";
import { readResults } from "../eval/results_file.ts";
import { readState, writeState } from "../eval/state_file.ts";
import { partsParam, shardParam } from "../pipeline/sharding.ts";
import { defineStage } from "../pipeline/stage.ts";
import { evalOutput, evalParams } from "./eval.ts";

/** One category shard of a sharded eval stage. */
export const evalPartStage = defineStage({
  kind: "eval-part",
  description: "One shard of a sharded eval stage: the partial evaluation of every n-th category",
  params: evalParams.extend({ shard: shardParam }),
  output: z.object({ part: z.string(), categories: z.int() }),
  async run(p, ctx) {
    const gt = await readGroundTruth(p.gt, p.iouType === "segm");
    const total = gt.categoryIds.length;
    if (p.shard.count > total) {
      throw new InputError(`Invalid shards: ${p.shard.count}: more shards than the ${total} categories of "${p.gt}"`);
    }
    const categoryIds = categoryShard(gt, p.shard.index, p.shard.count);
    // Always pooled: the merge re-ranks the pooled detections only if the stage asks for AP-pooled.
    const state = evaluate(gt, await readResults(p.dt, gt), {
      iouType: p.iouType,
      maxDets: p.apFixed ? -1 : p.maxDets,
      detsPerCat: p.apFixed ? p.detsPerCat : -1,
      pooled: true,
      categoryIds,
    });
    const part = join(ctx.outDir, "partial.json");
    await writeState(part, state);
    ctx.log(`categories ${p.shard.index}/${p.shard.count}: ${categoryIds.length} of ${total}`);
    return { part, categories: categoryIds.length };
  },
});

/** The merge of a sharded eval stage: the metrics file of the unsharded stage. */
export const evalMergeStage = defineStage({
  kind: "eval-merge",
  description: "Merge the category shards of a sharded eval stage into one metrics file",
  params: evalParams.extend({ parts: partsParam }),
  output: evalOutput,
  async run(p, ctx) {
    const merged = mergeStates(await Promise.all(p.parts.map(readState)));
    const missing = merged.evaluated.length - merged.evaluated.reduce((s, e) => s + e, 0);
    if (missing) throw new InputError(`Cannot merge ${p.parts.length} parts: ${missing} categories are in none`);
    const report = reportFromState(merged, { pooled: p.apPooled, raw: p.raw });
    const metrics = join(ctx.outDir, "metrics.json");
    await writeJsonAtomic(metrics, report);
    const r = report.results;
    return { metrics, AP: r.AP, AP50: r.AP50, APr: r.APr, APc: r.APc, APf: r.APf, AR: r[`AR@${merged.maxDets}`] };
  },
});
