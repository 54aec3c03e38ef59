/** `eval` with `shards: N`: parts per category shard; the merge is bit-identical, as categories never mix. */
import { dirname, join } from "node:path";
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { evaluate } from "../eval/evaluate.ts";
import { readGroundTruth } from "../eval/ground_truth.ts";
import { categoryShard, readOptionsFor, reportFromState } from "../eval/lvis_eval.ts";
import { mergeStates } from "../eval/merge.ts";
import { readResults } from "../eval/results_file.ts";
import { readState, writeState } from "../eval/state_file.ts";
import { partsParam, shardParam } from "../pipeline/sharding.ts";
import { defineStage } from "../pipeline/stage.ts";
import { evalIouTypes, evalOutput, evalParams, writeEvalReports } from "./eval.ts";

const partFile = (dir: string, iouType: string, first: boolean) =>
  join(dir, first ? "partial.json" : `partial_${iouType}.json`);

export const evalPartStage = defineStage({
  kind: "eval-part",
  description: "One shard of a sharded eval stage: the partial evaluation of every n-th category",
  params: evalParams.extend({ shard: shardParam }),
  output: z.object({ part: z.string(), categories: z.int() }),
  async run(p, ctx) {
    const iouTypes = await evalIouTypes(p);
    const gt = await readGroundTruth(p.gt, iouTypes.includes("segm"));
    for (const note of gt.notes) ctx.log(`note: ${note}`);
    const total = gt.categoryIds.length;
    if (p.shard.count > total) {
      throw new InputError(`Invalid shards: ${p.shard.count}: more shards than the ${total} categories of "${p.gt}"`);
    }
    const categoryIds = categoryShard(gt, p.shard.index, p.shard.count);
    const options = {
      maxDets: p.apFixed ? -1 : p.maxDets,
      detsPerCat: p.apFixed ? p.detsPerCat : -1,
      maskArea: p.maskArea,
      unknownCategories: p.unknownCategories,
    };
    const dt = await readResults(p.dt, gt, readOptionsFor(options));
    for (const [k, iouType] of iouTypes.entries()) {
      // Always pooled: the merge re-ranks pooled detections only if AP-pooled is asked for.
      const state = evaluate(gt, dt, { ...options, iouType, pooled: true, categoryIds });
      await writeState(partFile(ctx.outDir, iouType, k === 0), state);
    }
    ctx.log(`categories ${p.shard.index}/${p.shard.count}: ${categoryIds.length} of ${total} (${iouTypes.join(", ")})`);
    return { part: partFile(ctx.outDir, iouTypes[0], true), categories: categoryIds.length };
  },
});

export const evalMergeStage = defineStage({
  kind: "eval-merge",
  description: "Merge the category shards of a sharded eval stage into its metrics files",
  params: evalParams.extend({ parts: partsParam }),
  output: evalOutput,
  async run(p, ctx) {
    const iouTypes = await evalIouTypes(p);
    const reports = [];
    for (const [k, iouType] of iouTypes.entries()) {
      const files = p.parts.map((part) => k === 0 ? part : partFile(dirname(part), iouType, false));
      const merged = mergeStates(await Promise.all(files.map(readState)));
      const missing = merged.evaluated.length - merged.evaluated.reduce((s, e) => s + e, 0);
      if (missing) throw new InputError(`Cannot merge ${p.parts.length} parts: ${missing} categories are in none`);
      reports.push({ report: reportFromState(merged, { pooled: p.apPooled, raw: p.raw }), maxDets: merged.maxDets });
    }
    return await writeEvalReports(ctx.outDir, reports.map((r) => r.report), reports[0].maxDets);
  },
});
