import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { InputError } from "../../core/errors.ts";
import { buildProgram } from "../../pipeline/cli.ts";
import { parseStorage } from "../../pipeline/export/argo.ts";
import { EXPORT_TARGETS, exportPipeline, type ExportTarget } from "../../pipeline/export/export_pipeline.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { type Plan, planPipeline } from "../../pipeline/plan.ts";
import { defaultRegistry } from "../../tasks/registry.ts";
import { githubWorkflowErrors, gitlabCiErrors, validateArgo } from "./_workflow_schemas.ts";

const registry = defaultRegistry();
const shipped = ["ci", "default", "bench", "lvis_v1"];
const sharded = ["predict.shards=3", "eval.shards=2"];

function exported(name: string, target: ExportTarget, sets: string[], gpuStages: string[] = []) {
  const file = `pipelines/${name}.yaml`;
  const text = Deno.readTextFileSync(new URL(`../../${file}`, import.meta.url));
  const loaded = parsePipeline(file, text, sets);
  const plan = planPipeline(loaded, registry);
  const out = exportPipeline(plan, target, {
    pipelineFile: file,
    pipelineText: text,
    sets,
    runDir: `runs/${plan.name}`,
    gpuStages,
    image: target === "argo" ? "registry.example/tailor:1" : undefined,
    storage: target === "argo" ? parseStorage("pvc:tailor-runs", {}) : undefined,
  }, ["deno", "task", "pipeline", "export"]);
  return { plan, doc: parse(out) as Record<string, unknown> };
}

type Job = Record<string, unknown> & { needs?: string[]; strategy?: { matrix: { include: { id: string }[] } } };

/** The stage instance ids each CI job runs. */
function jobIds(target: ExportTarget, job: Job): string[] {
  if (target === "github-actions") {
    const steps = job.steps as { env?: { STAGE_ID: string } }[];
    const id = steps.find((s) => s.env?.STAGE_ID)!.env!.STAGE_ID;
    return id.includes("matrix.id") ? job.strategy!.matrix.include.map((m) => m.id) : [id];
  }
  const matrix = (job.parallel as { matrix: { STAGE_ID: string }[] } | undefined)?.matrix;
  return matrix ? matrix.map((m) => m.STAGE_ID) : [(job.variables as { STAGE_ID: string }).STAGE_ID];
}

/** Every dependency of the plan is honoured: by a DAG edge (Argo) or by `needs` between jobs (CI). */
function assertMirrorsPlan(plan: Plan, target: ExportTarget, doc: Record<string, unknown>, gpuStages: string[]) {
  const gpuOf = (id: string) => {
    const s = plan.byId.get(id)!;
    return gpuStages.includes(s.template) && (s.part !== undefined || !s.deps.some((d) => plan.byId.get(d)!.part));
  };
  if (target === "argo") {
    const templates = (doc.spec as { templates: Record<string, unknown>[] }).templates;
    const tasks = (templates[0].dag as { tasks: Record<string, unknown>[] }).tasks;
    const idOf = new Map(tasks.map((t) => [t.name as string, _param(t, "id")]));
    assert.deepEqual(tasks.map((t) => _param(t, "id")), plan.stages.map((s) => s.id));
    for (const t of tasks) {
      const id = _param(t, "id");
      assert.deepEqual(
        ((t.dependencies ?? []) as string[]).map((d) => idOf.get(d)).sort(),
        [...plan.byId.get(id)!.deps].sort(),
      );
      assert.equal(t.template, gpuOf(id) ? "stage-gpu" : "stage", id);
    }
    const gpu = templates.find((t) => t.name === "stage-gpu");
    assert.equal(!!gpu, plan.stages.some((s) => gpuOf(s.id)));
    if (gpu) {
      const limits = (gpu.container as { resources: { limits: Record<string, string> } }).resources.limits;
      assert.equal(limits["nvidia.com/gpu"], "1");
    }
    return;
  }
  const jobs = (target === "github-actions" ? doc.jobs : doc) as Record<string, Job>;
  const jobOf = new Map<string, string>();
  for (const [name, job] of Object.entries(jobs)) {
    if (!["stages", "variables", "default"].includes(name)) {
      for (const id of jobIds(target, job)) jobOf.set(id, name);
    }
  }
  assert.deepEqual([...jobOf.keys()].sort(), plan.stages.map((s) => s.id).sort());
  const needsOf = (job: string): Set<string> => {
    const direct = jobs[job].needs ?? [];
    return new Set([...direct, ...direct.flatMap((n) => [...needsOf(n)])]);
  };
  for (const s of plan.stages) {
    const job = jobOf.get(s.id)!;
    for (const d of s.deps) if (jobOf.get(d) !== job) assert.ok(needsOf(job).has(jobOf.get(d)!), `${s.id} after ${d}`);
    const runsOn = jobs[job]["runs-on"] ?? jobs[job].tags;
    if (gpuOf(s.id)) assert.ok(JSON.stringify(runsOn).includes("gpu"), `${s.id} on a GPU runner`);
  }
}

function _param(task: Record<string, unknown>, name: string): string {
  return (task.arguments as { parameters: { name: string; value: string }[] }).parameters.find((p) => p.name === name)!
    .value;
}

for (const target of EXPORT_TARGETS) {
  Deno.test(`pipeline export --to ${target}: every shipped pipeline, plain and sharded, passes the published schema and mirrors the plan`, () => {
    for (const name of shipped) {
      for (const sets of [[], sharded]) {
        const gpuStages = sets.length ? ["train", "predict"] : [];
        const { plan, doc } = exported(name, target, sets, gpuStages);
        if (target === "argo") validateArgo(doc);
        else {
          const errors = target === "github-actions" ? githubWorkflowErrors(doc) : gitlabCiErrors(doc);
          assert.deepEqual(errors, [], `${name} ${sets}`);
        }
        assertMirrorsPlan(plan, target, doc, gpuStages);
      }
    }
  });
}

Deno.test("the schema checks reject a broken workflow of each kind, so passing them means something", () => {
  const gh = exported("ci", "github-actions", []).doc;
  delete (gh.jobs as Record<string, Job>).train["runs-on"];
  assert.notDeepEqual(githubWorkflowErrors(gh), []);
  const gl = exported("ci", "gitlab-ci", []).doc;
  (gl.train as Job).parallel = { matrix: "train[loss=bce]" };
  assert.notDeepEqual(gitlabCiErrors(gl), []);
  const argo = exported("ci", "argo", []).doc;
  const templates = (argo.spec as { templates: Record<string, unknown>[] }).templates;
  (templates[1].container as Record<string, unknown>).args = "one string";
  assert.throws(() => validateArgo(argo));
});

Deno.test("pipelines/exported/ holds what `pipeline export` writes now for the command in each file's first line", async () => {
  const dir = new URL("../../pipelines/exported/", import.meta.url);
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(files, ["ci.argo.yaml", "ci.github-actions.yml", "ci.gitlab-ci.yml"]);
  const tmp = await Deno.makeTempDir();
  try {
    for (const name of files) {
      const committed = Deno.readTextFileSync(new URL(name, dir));
      const command = /^# Generated by: deno task pipeline (.*)$/m.exec(committed)![1].split(" ");
      const out = join(tmp, name);
      await buildProgram({ registry, defaultPipeline: "pipelines/default.yaml" }).parseAsync(
        [...command, "--out", out],
        { from: "user" },
      );
      assert.equal(committed, Deno.readTextFileSync(out), `${name} is stale: run the command in its first line`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("pipeline export refuses bad input with pipeline run's errors, before writing anything", async () => {
  const tmp = await Deno.makeTempDir();
  const out = join(tmp, "wf.yaml");
  const fails = async (args: string[]): Promise<string> => {
    try {
      await buildProgram({ registry, defaultPipeline: "pipelines/default.yaml" }).parseAsync([
        "export",
        ...args,
        "--out",
        out,
      ], { from: "user" });
    } catch (e) {
      assert.ok(e instanceof InputError, String(e));
      await assert.rejects(Deno.stat(out), "nothing written");
      return e.message;
    }
    throw new Error(`expected ${args.join(" ")} to fail`);
  };
  const runError = async (args: string[]): Promise<string> => {
    try {
      await buildProgram({ registry, defaultPipeline: "pipelines/default.yaml" }).parseAsync(
        ["run", "--dry", ...args],
        { from: "user" },
      );
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error("expected run to fail");
  };
  try {
    for (const bad of [["--set", "nope.x=1"], ["--set", "train.lossz=2"], ["--set", "predict.shards=0"]]) {
      const args = ["pipelines/ci.yaml", ...bad];
      assert.equal(await fails(["--to", "gitlab-ci", ...args]), await runError(args));
    }
    assert.match(await fails(["--to", "argo", "pipelines/ci.yaml", "--set", "train.shards=2"]), /cannot run in shards/);
    const gpu = await fails(["--to", "github-actions", "pipelines/ci.yaml", "--gpu-stages", "train,trian"]);
    assert.match(gpu, /--gpu-stages: no stage "trian" in "pipelines\/ci\.yaml" \(stages: data, train, predict/);
    assert.match(await fails(["--to", "argo", "pipelines/ci.yaml", "--storage", "pvc:x"]), /needs --image/);
    const storage = await fails(["--to", "argo", "pipelines/ci.yaml", "--image", "i", "--storage", "nfs:/x"]);
    assert.match(storage, /Invalid --storage "nfs:\/x": expected pvc:CLAIM or s3:BUCKET\/PREFIX/);
    assert.match(await fails(["--to", "gitlab-ci", "pipelines/ci.yaml", "--run-dir", "/tmp/x"]), /under runs\//);
    assert.match(await fails(["--to", "gitlab-ci", "/abs/ci.yaml"]), /Cannot read pipeline/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("--storage s3: every task copies the run in and its own stage, log and outcome out", () => {
  const text = Deno.readTextFileSync(new URL("../../pipelines/ci.yaml", import.meta.url));
  const plan = planPipeline(parsePipeline("pipelines/ci.yaml", text), registry);
  const storage = parseStorage("s3:my-bucket/team/tailor", { secret: "s3-keys" });
  const doc = parse(exportPipeline(plan, "argo", {
    pipelineFile: "pipelines/ci.yaml",
    pipelineText: text,
    sets: [],
    runDir: "runs/ci",
    gpuStages: [],
    image: "tailor:1",
    storage,
  }, [])) as { spec: { templates: Record<string, Record<string, unknown[]>>[]; volumes?: unknown } };
  validateArgo(doc as unknown as Record<string, unknown>);
  assert.equal(doc.spec.volumes, undefined);
  const stage = doc.spec.templates[1];
  const keys = (list: unknown[]) => list.map((a) => (a as { s3?: { key: string } }).s3?.key);
  assert.deepEqual(keys(stage.inputs.artifacts), [undefined, "team/tailor/"]);
  assert.deepEqual(keys(stage.outputs.artifacts), [
    "team/tailor/stages/{{inputs.parameters.dir}}",
    "team/tailor/logs/{{inputs.parameters.dir}}.log",
    "team/tailor/outcomes/{{inputs.parameters.dir}}.json",
  ]);
  assert.equal(
    (stage.inputs.artifacts[1] as { s3: { accessKeySecret: { name: string } } }).s3.accessKeySecret.name,
    "s3-keys",
  );
});
