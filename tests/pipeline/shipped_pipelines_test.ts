import assert from "node:assert/strict";
import { join } from "node:path";
import { InputErrors } from "../../core/errors.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { type Plan, planPipeline } from "../../pipeline/plan.ts";
import { defaultRegistry } from "../../tasks/registry.ts";

const dir = new URL("../../pipelines/", import.meta.url);
const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".yaml")).map((e) => e.name).sort();
const registry = defaultRegistry();

/** An LVIS root with the files lvis_v1.yaml names (empty: planning only checks that they exist). */
async function fakeLvisRoot(): Promise<string> {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(join(root, "annotations"));
  for (const split of ["train", "val"]) {
    await Deno.writeTextFile(join(root, "annotations", `lvis_v1_${split}.json`), "{}");
    await Deno.mkdir(join(root, `${split}2017`));
  }
  return root;
}

const lvisRoot = await fakeLvisRoot();

function plan(name: string, sets: string[] = []): Plan {
  const text = Deno.readTextFileSync(new URL(name, dir));
  const extra = name === "lvis_v1.yaml" ? [`vars.root=${lvisRoot}`] : [];
  return planPipeline(parsePipeline(`pipelines/${name}`, text, [...extra, ...sets]), registry, { checkInputs: true });
}

Deno.test("pipelines/ ships the default, LVIS v1, CI and own-data pipelines", () => {
  for (const name of ["default.yaml", "lvis_v1.yaml", "ci.yaml", "coco.yaml"]) assert.ok(files.includes(name), name);
});

for (const name of files) {
  Deno.test(`pipelines/${name} plans against the registered stage kinds`, () => {
    const p = plan(name);
    assert.ok(p.stages.length >= 1);
    assert.equal(p.stages.at(-1)!.kind.kind, "report");
  });
}

Deno.test("shipped pipelines report one run per evaluated matrix instance", () => {
  for (const name of files) {
    const p = plan(name);
    const report = p.stages.at(-1)!;
    assert.equal(report.kind.kind, "report", name);
    const evals = p.stages.filter((st) => st.kind.kind === "eval").map((st) => st.id);
    assert.ok(evals.length >= 2, `${name}: a comparison needs at least two evaluated runs`);
    const runs = (report.params as { runs: { name: string; metrics: string }[] }).runs;
    assert.equal(runs.length, evals.length, name);
    assert.equal(new Set(runs.map((r) => r.name)).size, runs.length, `${name}: run names must differ`);
    assert.deepEqual(report.deps.filter((d) => d.startsWith("eval")).sort(), [...evals].sort(), name);
  }
});

Deno.test("pipelines/lvis_v1.yaml without the LVIS files fails at planning, naming all four at once", async () => {
  const missing = join(await Deno.makeTempDir(), "no_lvis_here");
  const text = Deno.readTextFileSync(new URL("lvis_v1.yaml", dir));
  let error: unknown;
  try {
    planPipeline(parsePipeline("pipelines/lvis_v1.yaml", text, [`vars.root=${missing}`]), registry, {
      checkInputs: true,
    });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof InputErrors, `expected every problem at once, got ${error}`);
  const at = "pipelines/lvis_v1.yaml";
  assert.deepEqual(error.problems, [
    `${at}:16:20: No such file "${missing}/annotations/lvis_v1_train.json" (folder "${missing}" does not exist) ` +
    `(stages.train_data.with.annotations)`,
    `${at}:17:18: No such folder "${missing}/train2017" (stages.train_data.with.imageRoot)`,
    `${at}:22:20: No such file "${missing}/annotations/lvis_v1_val.json" (folder "${missing}" does not exist) ` +
    `(stages.val_data.with.annotations)`,
    `${at}:23:18: No such folder "${missing}/val2017" (stages.val_data.with.imageRoot)`,
  ]);
});

Deno.test("the embedded default pipeline runs into runs/demo, where the demo's work already is", () => {
  assert.equal(plan("default.yaml").name, "demo");
});
