import assert from "node:assert/strict";
import { z } from "zod";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { defaultRegistry, StageRegistry } from "../../pipeline/registry.ts";
import { defineStage } from "../../pipeline/stage.ts";
import { ingestStage } from "../../tasks/ingest.ts";
import { reportStage } from "../../tasks/report.ts";
import { synthStage } from "../../tasks/synth.ts";

const dir = new URL("../../pipelines/", import.meta.url);
const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".yaml")).map((e) => e.name).sort();
const registry = defaultRegistry();

Deno.test("pipelines/ ships the default, LVIS v1 and CI pipelines", () => {
  for (const name of ["default.yaml", "lvis_v1.yaml", "ci.yaml"]) assert.ok(files.includes(name), name);
});

for (const name of files) {
  const text = Deno.readTextFileSync(new URL(name, dir));
  const loaded = parsePipeline(`pipelines/${name}`, text);
  const missing = [...new Set(Object.values(loaded.spec.stages).map((s) => s.uses))].filter((k) => !registry.find(k));
  if (missing.length) console.warn(`shipped_pipelines_test: ${name} not planned, kinds not registered yet: ${missing}`);
  Deno.test({
    name: `pipelines/${name} plans against the registered stage kinds`,
    ignore: missing.length > 0,
    fn() {
      const plan = planPipeline(loaded, registry);
      assert.ok(plan.stages.length >= 1);
      assert.equal(plan.stages.at(-1)!.kind.kind, "report");
    },
  });
}

// Until train, predict and eval are registered: any parameters, the outputs the pipelines take from them.
const standIn = (kind: string, outputs: string[]) =>
  defineStage({
    kind,
    description: "stand-in",
    params: z.record(z.string(), z.unknown()),
    output: z.object(Object.fromEntries(outputs.map((o) => [o, z.string()]))),
    run: () => Promise.reject(new Error("stand-in")),
  });

Deno.test("shipped pipelines link their stages (with stand-ins for kinds not registered yet)", () => {
  const partial = new StageRegistry().register(ingestStage).register(reportStage).register(synthStage);
  for (
    const [kind, outputs] of Object.entries({
      train: ["model", "trainLog", "gradStats"],
      predict: ["results"],
      eval: ["metrics"],
    })
  ) {
    partial.register(registry.find(kind) ?? standIn(kind, outputs));
  }
  for (const name of files) {
    const plan = planPipeline(parsePipeline(`pipelines/${name}`, Deno.readTextFileSync(new URL(name, dir))), partial);
    const report = plan.stages.at(-1)!;
    assert.equal(report.kind.kind, "report");
    const runs = (report.params as { runs: { name: string }[] }).runs;
    assert.deepEqual(runs.map((r) => r.name), ["bce", "eqlv2"], name);
    assert.deepEqual(report.deps.filter((d) => d.startsWith("eval")), ["eval[loss=bce]", "eval[loss=eqlv2]"], name);
  }
});
