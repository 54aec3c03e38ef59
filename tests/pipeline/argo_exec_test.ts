/**
 * An exported Argo workflow, executed without a cluster: each DAG task's
 * container command runs as its own process, in dependency order (two at a
 * time, as pods would), with only its command line, its raw artifact (the
 * pipeline file) and the shared run directory (the volume claim). The run
 * directory must end up as `deno task pipeline run` leaves it: manifest,
 * weights, results and metrics. Submitting it again must skip every task.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { gpuTest, SEED } from "../_util.ts";
import { parseStorage } from "../../pipeline/export/argo.ts";
import { exportPipeline } from "../../pipeline/export/export_pipeline.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { defaultRegistry } from "../../tasks/registry.ts";
import { validateArgo } from "./_workflow_schemas.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const seed = SEED % 1000;
const text = `name: exec
stages:
  data: {uses: synth, with: {preset: ci, seed: ${seed}}}
  train:
    uses: train
    with:
      dataset: \${data.trainJson}
      imageRoot: \${data.imageRoot}
      model: tiny
      loss: eqlv2
      iterations: 2
      batchSize: 2
      shortSides: [64]
      workers: 0
      seed: ${seed}
  predict:
    uses: predict
    shards: 2
    with: {model: "\${train.model}", dataset: "\${data.valJson}", imageRoot: "\${data.imageRoot}", shortSide: 64, scoreThreshold: 0, workers: 0}
  eval:
    uses: eval
    matrix: {maxDets: [100, 300]}
    shards: 2
    with: {gt: "\${data.valJson}", dt: "\${predict.results}", maxDets: "\${matrix.maxDets}"}
`;

interface Task {
  name: string;
  template: string;
  dependencies?: string[];
  arguments: { parameters: { name: string; value: string }[] };
}
interface Template {
  name: string;
  inputs: { artifacts: { path: string; raw?: { data: string } }[] };
  container: { command: string[]; args: string[]; workingDir: string; env: { name: string; value: string }[] };
}

/** Run every task of `workflow` as a process; `tmp` stands in for the pods' own filesystems. */
async function execute(workflow: { spec: { templates: (Template & { dag?: { tasks: Task[] } })[] } }, tmp: string) {
  const templates = workflow.spec.templates;
  const tasks = templates[0].dag!.tasks;
  const done = new Set<string>(), running = new Map<string, Promise<void>>();
  const log: string[] = [];
  const start = (task: Task) => {
    const template = templates.find((t) => t.name === task.template)!;
    const param = (s: string) =>
      s.replace(
        /\{\{inputs\.parameters\.(\w+)\}\}/g,
        (_, n) => task.arguments.parameters.find((p) => p.name === n)!.value,
      );
    const local = (path: string) => (path.startsWith("/tailor/") ? join(tmp, path) : path);
    for (const a of template.inputs.artifacts.filter((a) => a.raw)) {
      Deno.mkdirSync(join(local(a.path), ".."), { recursive: true });
      Deno.writeTextFileSync(local(a.path), a.raw!.data);
    }
    const [command, ...args] = [...template.container.command, ...template.container.args].map(param).map(local);
    assert.equal(template.container.workingDir, "/app");
    const env = Object.fromEntries(template.container.env.map((e) => [e.name, e.value]));
    Deno.mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true });
    const child = new Deno.Command(command === "deno" ? Deno.execPath() : command, {
      args,
      cwd: root,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    running.set(
      task.name,
      child.then((out) => {
        const said = new TextDecoder().decode(out.stderr);
        log.push(`${task.name}: ${said}`);
        assert.equal(out.code, 0, `${task.name} failed: ${said}`);
        done.add(task.name);
        running.delete(task.name);
      }),
    );
  };
  while (done.size < tasks.length) {
    for (const task of tasks) {
      const ready = (task.dependencies ?? []).every((d) => done.has(d));
      if (ready && !done.has(task.name) && !running.has(task.name) && running.size < 2) start(task);
    }
    assert.ok(running.size > 0, "no task can start: the DAG is broken");
    await Promise.race(running.values());
  }
  return log;
}

gpuTest(
  `an exported Argo workflow's tasks, run as separate processes, leave the run pipeline run leaves (seed ${SEED})`,
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "tailor_argo_exec_" });
    const tag = Math.random().toString(36).slice(2, 8);
    const runs = { tasks: `runs/_test_argo_${tag}`, reference: `runs/_test_ref_${tag}` };
    try {
      const file = join(tmp, "exec.yaml");
      await Deno.writeTextFile(file, text);
      const plan = planPipeline(parsePipeline(file, text), defaultRegistry());
      const workflow = parse(exportPipeline(plan, "argo", {
        pipelineFile: file,
        pipelineText: text,
        sets: [],
        runDir: runs.tasks,
        gpuStages: ["train", "predict"],
        image: "tailor:test",
        storage: parseStorage("pvc:runs", {}),
      }, []));
      validateArgo(workflow);
      assert.equal(workflow.spec.templates[0].dag.tasks.length, 1 + 1 + 3 + 6);

      const reference = await new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "pipeline", "run", file, "--run-dir", runs.reference, "--jobs", "2"],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(reference.code, 0, new TextDecoder().decode(reference.stderr));
      await execute(workflow, tmp);

      const manifest = (dir: string) => JSON.parse(Deno.readTextFileSync(join(root, dir, "manifest.json")));
      const [a, b] = [manifest(runs.tasks), manifest(runs.reference)];
      assert.equal(a.status, "ok");
      assert.equal(b.status, "ok");
      assert.deepEqual(Object.keys(a.stages), Object.keys(b.stages));
      const comparable = (stage: Record<string, unknown>, runDir: string) => {
        const { kind, status, key, code, params, inputs, outputs } = stage;
        return JSON.parse(
          JSON.stringify({ kind, status, key, code, params, inputs, outputs }).replaceAll(runDir, "$RUN"),
        );
      };
      for (const id of Object.keys(a.stages)) {
        assert.deepEqual(comparable(a.stages[id], runs.tasks), comparable(b.stages[id], runs.reference), id);
      }
      const bytes = (dir: string, path: string) => Deno.readFileSync(join(root, dir, "stages", path));
      for (const path of ["train/weights.safetensors", "predict/results.json", "eval@maxDets=100/metrics.json"]) {
        assert.deepEqual(bytes(runs.tasks, path), bytes(runs.reference, path), path);
      }
      assert.ok(JSON.parse(new TextDecoder().decode(bytes(runs.tasks, "predict/results.json"))).length > 0);

      // Submitted again: every pod finds its stage up to date in the shared run directory.
      const again = await execute(workflow, tmp);
      assert.equal(again.filter((l) => /: up to date/.test(l)).length, again.length, again.join("\n"));
      assert.ok(
        Object.values(manifest(runs.tasks).stages).every((s) => (s as { status: string }).status === "skipped"),
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
      for (const dir of Object.values(runs)) await Deno.remove(join(root, dir), { recursive: true }).catch(() => {});
    }
  },
);
