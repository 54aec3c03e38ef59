/**
 * `shards: N` on predict and eval, through the planner and the runner: the
 * merged results file is byte for byte the unsharded stage's, and the merged
 * metrics files (bbox, and segm from the masks) bit for bit, for N = 1, 2, 3 and 7 (7 leaves slices of uneven
 * size and cuts the categories unevenly).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest, SEED } from "../_util.ts";
import { generateSynthetic } from "../../data/synth/generate.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { plainReporter } from "../../pipeline/progress.ts";
import { defaultRegistry } from "../../tasks/registry.ts";
import { runPlan } from "../../pipeline/runner.ts";
import { directContext } from "../../pipeline/stage.ts";
import { evalParams, evalStage } from "../../tasks/eval.ts";
import { predictParams, predictStage } from "../../tasks/predict.ts";
import { trainParams, trainStage } from "../../tasks/train.ts";

const dir = await Deno.makeTempDir({ prefix: "tailor_shards_" });
const registry = defaultRegistry();

function pipeline(shards: number, model: string, valJson: string, imageRoot: string): string {
  return `stages:
  predict:
    uses: predict
    shards: ${shards}
    with: {model: "${model}", dataset: "${valJson}", imageRoot: "${imageRoot}", shortSide: 64, scoreThreshold: 0, batchSize: 2, workers: 0}
  eval:
    uses: eval
    shards: ${shards}
    with: {gt: "${valJson}", dt: "\${predict.results}", apPooled: true}
`;
}

gpuTest(
  `predict and eval with shards: 1, 2, 3, 7 equal the unsharded stages byte for byte (seed ${SEED})`,
  async () => {
    const s = await generateSynthetic({ outDir: join(dir, "data"), preset: "ci", seed: SEED % 1000 });
    const model = join(dir, "model"), whole = join(dir, "whole");
    await Deno.mkdir(model);
    await Deno.mkdir(whole);
    await trainStage.run(
      trainParams.parse({
        dataset: s.trainJson,
        imageRoot: s.imageRoot,
        model: "tiny",
        loss: "eqlv2",
        iterations: 2,
        batchSize: 2,
        shortSides: [64],
        workers: 0,
        seed: SEED % 1000,
      }),
      directContext(model),
    );
    const predictWith = { model, dataset: s.valJson, imageRoot: s.imageRoot, shortSide: 64, scoreThreshold: 0 };
    const predicted = await predictStage.run(
      predictParams.parse({ ...predictWith, batchSize: 2, workers: 0 }),
      directContext(whole),
    );
    const evaluated = await evalStage.run(
      evalParams.parse({ gt: s.valJson, dt: predicted.results, apPooled: true }),
      directContext(whole),
    );
    const results = await Deno.readFile(predicted.results), metrics = await Deno.readFile(evaluated.metrics);
    // The model has a mask head: the results carry masks, and eval scores segm beside bbox.
    assert.ok(evaluated.segmMetrics, "no segm metrics from results with masks");
    const segmMetrics = await Deno.readFile(evaluated.segmMetrics);
    const images = predicted.images;
    assert.ok(predicted.detections > 0 && images >= 8, `${predicted.detections} detections on ${images} images`);

    for (const shards of [1, 2, 3, 7]) {
      const runDir = join(dir, `run${shards}`);
      const plan = planPipeline(parsePipeline("p.yaml", pipeline(shards, model, s.valJson, s.imageRoot)), registry);
      assert.equal(plan.stages.length, 2 * (shards + 1));
      const run = await runPlan(plan, { runDir, registry, jobs: 2, reporter: plainReporter(() => {}) });
      assert.ok(run.ok, JSON.stringify([...run.stages].filter(([, o]) => o.error)));
      const merged = run.stages.get("predict")!.outputs!;
      assert.deepEqual(await Deno.readFile(merged.results as string), results, `results.json, ${shards} shards`);
      assert.deepEqual({ ...merged, results: "" }, { ...predicted, results: "" });
      const parts = plan.stages.filter((st) => st.part && st.template === "predict").map((st) =>
        run.stages.get(st.id)!
      );
      const busy = parts.filter((o) => (o.outputs!.detections as number) > 0).length;
      assert.ok(busy >= Math.min(shards, 2), `${busy} of ${shards} parts found detections: the split is not real`);
      const scored = run.stages.get("eval")!.outputs!;
      assert.deepEqual(await Deno.readFile(scored.metrics as string), metrics, `metrics.json, ${shards} shards`);
      const segm = await Deno.readFile(scored.segmMetrics as string);
      assert.deepEqual(segm, segmMetrics, `metrics_segm.json, ${shards} shards`);
      assert.deepEqual({ ...scored, metrics: "", segmMetrics: "" }, { ...evaluated, metrics: "", segmMetrics: "" });
    }

    const runDir = join(dir, "too_many");
    const tooMany = planPipeline(
      parsePipeline("p.yaml", pipeline(images + 1, model, s.valJson, s.imageRoot)),
      registry,
    );
    const run = await runPlan(tooMany, { runDir, registry, jobs: 1, reporter: plainReporter(() => {}) });
    assert.equal(run.ok, false);
    const failed = [...run.stages.values()].find((o) => o.status === "failed")!;
    assert.match(failed.error!, new RegExp(`Invalid shards: ${images + 1}: more shards than the ${images} images in`));
    await Deno.remove(dir, { recursive: true });
  },
);
