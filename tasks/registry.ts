/**
 * A new stage is a file in tasks/ and one line here.
 * @example
 * ```ts
 * const plan = planPipeline(await loadPipeline("pipelines/ci.yaml"), defaultRegistry());
 * ```
 */
import { StageRegistry } from "../pipeline/registry.ts";
import { evalStage } from "./eval.ts";
import { ingestStage } from "./ingest.ts";
import { predictStage } from "./predict.ts";
import { predictMergeStage, predictPartStage } from "./predict_shards.ts";
import { evalMergeStage, evalPartStage } from "./eval_shards.ts";
import { reportStage } from "./report.ts";
import { retrainStage } from "./retrain.ts";
import { synthStage } from "./synth.ts";
import { trainStage } from "./train.ts";

/** Each stage's module source hash is its code version. */
export function defaultRegistry(): StageRegistry {
  const task = (name: string) => new URL(`./${name}.ts`, import.meta.url).href;
  return new StageRegistry()
    .register(evalStage, task("eval"))
    .register(ingestStage, task("ingest"))
    .register(reportStage, task("report"))
    .register(retrainStage, task("retrain"))
    .register(synthStage, task("synth"))
    .register(trainStage, task("train"))
    .register(predictStage, task("predict"))
    .register(predictPartStage, task("predict_shards"))
    .register(predictMergeStage, task("predict_shards"))
    .register(evalPartStage, task("eval_shards"))
    .register(evalMergeStage, task("eval_shards"));
}
