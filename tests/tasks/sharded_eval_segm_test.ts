/**
 * A sharded eval stage over results that carry masks writes the metrics files
 * of the unsharded stage, bbox and segm both, byte for byte.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { plainReporter } from "../../pipeline/progress.ts";
import { runPlan } from "../../pipeline/runner.ts";
import { directContext } from "../../pipeline/stage.ts";
import { evalParams, evalStage } from "../../tasks/eval.ts";
import { defaultRegistry } from "../../tasks/registry.ts";

const fixture = fileURLToPath(new URL("../../../shared/fixtures/lvis/s01_segm/", import.meta.url));

Deno.test("eval with shards: 2 and 5 over results with masks equals the unsharded bbox and segm metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_shards_segm_" });
  const gt = join(fixture, "gt.json"), dt = join(fixture, "dt_with_bbox.json");
  const whole = await evalStage.run(evalParams.parse({ gt, dt, apPooled: true }), directContext(dir));
  assert.ok(whole.segmMetrics, "the unsharded stage evaluates segm beside bbox");
  const want = [await Deno.readFile(whole.metrics), await Deno.readFile(whole.segmMetrics!)];
  const registry = defaultRegistry();
  for (const shards of [2, 5]) {
    const yaml =
      `stages:\n  eval:\n    uses: eval\n    shards: ${shards}\n    with: {gt: "${gt}", dt: "${dt}", apPooled: true}\n`;
    const plan = planPipeline(parsePipeline("p.yaml", yaml), registry);
    const run = await runPlan(plan, {
      runDir: join(dir, `run${shards}`),
      registry,
      jobs: 2,
      reporter: plainReporter(() => {}),
    });
    assert.ok(run.ok, JSON.stringify([...run.stages].filter(([, o]) => o.error)));
    const out = run.stages.get("eval")!.outputs!;
    assert.deepEqual(await Deno.readFile(out.metrics as string), want[0], `metrics.json, ${shards} shards`);
    assert.deepEqual(await Deno.readFile(out.segmMetrics as string), want[1], `metrics_segm.json, ${shards} shards`);
  }
  await Deno.remove(dir, { recursive: true });
});
