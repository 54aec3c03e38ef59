import assert from "node:assert/strict";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { defaultRegistry } from "../../tasks/registry.ts";

const dir = new URL("../../pipelines/", import.meta.url);
const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".yaml")).map((e) => e.name).sort();
const registry = defaultRegistry();

Deno.test("pipelines/ ships the default, LVIS v1 and CI pipelines", () => {
  for (const name of ["default.yaml", "lvis_v1.yaml", "ci.yaml"]) assert.ok(files.includes(name), name);
});

for (const name of files) {
  const text = Deno.readTextFileSync(new URL(name, dir));
  const loaded = parsePipeline(`pipelines/${name}`, text);
  Deno.test({
    name: `pipelines/${name} plans against the registered stage kinds`,
    fn() {
      const missing = [...new Set(Object.values(loaded.spec.stages).map((s) => s.uses))].filter((k) =>
        !registry.find(k)
      );
      assert.deepEqual(missing, [], `${name} uses stage kinds that are not registered`);
      const plan = planPipeline(loaded, registry);
      assert.ok(plan.stages.length >= 1);
      assert.equal(plan.stages.at(-1)!.kind.kind, "report");
    },
  });
}

Deno.test("shipped pipelines report one run per evaluated matrix instance", () => {
  for (const name of files) {
    const plan = planPipeline(parsePipeline(`pipelines/${name}`, Deno.readTextFileSync(new URL(name, dir))), registry);
    const report = plan.stages.at(-1)!;
    assert.equal(report.kind.kind, "report", name);
    const evals = plan.stages.filter((st) => st.kind.kind === "eval").map((st) => st.id);
    assert.ok(evals.length >= 2, `${name}: a comparison needs at least two evaluated runs`);
    const runs = (report.params as { runs: { name: string; metrics: string }[] }).runs;
    assert.equal(runs.length, evals.length, name);
    assert.equal(new Set(runs.map((r) => r.name)).size, runs.length, `${name}: run names must differ`);
    assert.deepEqual(report.deps.filter((d) => d.startsWith("eval")).sort(), [...evals].sort(), name);
  }
});
