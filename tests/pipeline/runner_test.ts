import assert from "node:assert/strict";
import { hostname } from "node:os";
import { join } from "node:path";
import { explainPlan } from "../../pipeline/explain_plan.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { plainReporter } from "../../pipeline/progress.ts";
import { runPlan } from "../../pipeline/runner.ts";
import { acquireRunLock } from "../../pipeline/run_lock.ts";
import { probe, testRegistry } from "./_test_stages.ts";

const registry = testRegistry();
const quiet = () => plainReporter(() => {});

function wordsPipeline(words: string[], counts: number[], extra = ""): string {
  return `name: t
stages:
  words:
    uses: write
    matrix: {word: [${words.join(", ")}]}
    with: {word: "\${matrix.word}", count: ${counts[0]}}
  all:
    uses: join
    with:
      files: [{$each: words, $item: "\${words.file}"}]${extra}
`;
}

function randomWords(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `w${i}x${Math.random().toString(36).slice(2, 7)}`);
}

async function run(text: string, runDir: string, jobs = 2) {
  const plan = planPipeline(parsePipeline("t.yaml", text), registry);
  probe.calls = [];
  probe.maxRunning = 0;
  return { plan, result: await runPlan(plan, { runDir, registry, jobs, reporter: quiet() }) };
}

Deno.test("runPlan() runs the graph, then skips every unchanged stage and re-runs only what a change reaches", async () => {
  const runDir = await Deno.makeTempDir();
  const words = randomWords(3);
  const count = 1 + Math.floor(Math.random() * 5);
  const first = await run(wordsPipeline(words, [count]), runDir);
  assert.ok(first.result.ok);
  const joined = await Deno.readTextFile(join(runDir, "stages", "all", "joined.txt"));
  assert.equal(joined, words.map((w) => `${w}\n`.repeat(count)).join(""));
  assert.equal(first.result.stages.get("all")!.outputs!.lines, 3 * count);

  const again = await run(wordsPipeline(words, [count]), runDir);
  assert.deepEqual(probe.calls, []);
  assert.ok([...again.result.stages.values()].every((o) => o.status === "skipped"));

  const changed = wordsPipeline([...words.slice(0, 2), "zz"], [count]);
  const explained = await explainPlan(planPipeline(parsePipeline("t.yaml", changed), registry), { runDir, registry });
  assert.deepEqual(explained.map((d) => [d.id, d.willRun]), [
    [`words[word=${words[0]}]`, false],
    [`words[word=${words[1]}]`, false],
    ["words[word=zz]", true],
    ["all", true],
  ]);
  assert.match(explained[3].reason, /needs "words\[word=zz\]", which will run/);
  await run(changed, runDir);
  assert.deepEqual(probe.calls, ["write:zz", "join"]);
  const manifest = JSON.parse(await Deno.readTextFile(join(runDir, "manifest.json")));
  assert.equal(manifest.status, "ok");
  assert.equal(manifest.stages["all"].status, "done");
  assert.equal(manifest.stages[`words[word=${words[0]}]`].status, "skipped");
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("explainPlan() names the changed parameter and the changed input file", async () => {
  const runDir = await Deno.makeTempDir();
  const input = join(runDir, "..", `${runDir.split("/").at(-1)}_input.txt`);
  await Deno.writeTextFile(input, "first\n");
  const text = (extra: number) => `stages:\n  j:\n    uses: join\n    with: {files: ["${input}"], extra: ${extra}}\n`;
  await run(text(1), runDir);
  const why = async (t: string) =>
    (await explainPlan(planPipeline(parsePipeline("t.yaml", t), registry), { runDir, registry }))[0];
  assert.equal((await why(text(1))).willRun, false);
  assert.equal((await why(text(2))).reason, "parameters changed: with.extra");
  await Deno.writeTextFile(input, "second\n");
  assert.equal((await why(text(1))).reason, `input "${input}" changed`);
  await Deno.remove(input);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("runPlan() blocks the stages after a failure and resumes from the finished ones", async () => {
  const runDir = await Deno.makeTempDir();
  const words = randomWords(2);
  const failing = wordsPipeline(words, [2], `\n      failIf: ${words[1]}`);
  const { result } = await run(failing, runDir);
  assert.equal(result.ok, false);
  assert.equal(result.stages.get("all")!.status, "failed");
  assert.match(result.stages.get("all")!.error!, new RegExp(`found ${words[1]}`));
  await assert.rejects(Deno.stat(join(runDir, "stages", "all")));
  assert.match(await Deno.readTextFile(join(runDir, "logs", "all.log")), /failed: Error: found/);
  assert.equal(JSON.parse(await Deno.readTextFile(result.manifestPath)).status, "failed");

  const fixed = await run(wordsPipeline(words, [2], "\n      failIf: nothing-matches"), runDir);
  assert.ok(fixed.result.ok);
  assert.deepEqual(probe.calls, ["join"]);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("runPlan() resumes a stage from the checkpoint its failed attempt left in the work folder", async () => {
  const runDir = await Deno.makeTempDir();
  const steps = 5 + Math.floor(Math.random() * 10);
  const failAt = 2 + Math.floor(Math.random() * (steps - 3));
  const text = `stages:\n  c: {uses: count, with: {steps: ${steps}, failAt: ${failAt}}}\n`;
  assert.equal((await run(text, runDir)).result.ok, false);
  const second = await run(text, runDir);
  assert.ok(second.result.ok);
  assert.deepEqual(second.result.stages.get("c")!.outputs, { resumedFrom: failAt, done: steps });
  const work = [...Deno.readDirSync(join(runDir, "work"))];
  assert.deepEqual(work, [], "the work folder is removed after success");
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("runPlan() removes torn outputs of a killed run and never exceeds the job limit", async () => {
  const runDir = await Deno.makeTempDir();
  const torn = join(runDir, "stages", "all.1234.mb2x1k.a1b2c3.tmp");
  await Deno.mkdir(torn, { recursive: true });
  await Deno.writeTextFile(join(torn, "joined.txt"), "half");
  const words = randomWords(5);
  const text = wordsPipeline(words, [1]).replace("count: 1}", "count: 1, delayMs: 20}");
  await run(text, runDir, 2);
  await assert.rejects(Deno.stat(torn));
  assert.equal(probe.maxRunning, 2);
  await Deno.remove(join(runDir, "stages"), { recursive: true });
  await run(text, runDir, 1);
  assert.equal(probe.maxRunning, 1);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("acquireRunLock() refuses a live holder and takes over from a dead one", async () => {
  const runDir = await Deno.makeTempDir();
  const lock = join(runDir, "run.lock");
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  await Deno.writeTextFile(lock, JSON.stringify({ pid: child.pid, host: hostname(), started: "then" }));
  await assert.rejects(acquireRunLock(runDir), new RegExp(`in use by pid ${child.pid}`));
  child.kill();
  await child.status;
  const release = await acquireRunLock(runDir);
  assert.equal(JSON.parse(await Deno.readTextFile(lock)).pid, Deno.pid);
  await assert.rejects(acquireRunLock(runDir), /in use by pid/);
  await release();
  await assert.rejects(Deno.stat(lock));
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("a run killed mid-stage leaves no torn output, and the next run takes its lock and resumes", async () => {
  const runDir = await Deno.makeTempDir();
  const word = randomWords(1)[0];
  const text = (delayMs: number) =>
    `stages:\n  first: {uses: write, with: {word: ${word}, count: 2}}\n` +
    `  second: {uses: write, needs: first, with: {word: ${word}b, count: 3, delayMs: ${delayMs}}}\n`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_killed_run.ts", import.meta.url).pathname, runDir, text(60_000)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stages = join(runDir, "stages");
  const torn = async () => (await Array.fromAsync(Deno.readDir(stages))).map((e) => e.name);
  for (
    let i = 0;
    i < 300 && !(await torn().catch(() => [])).some((n) => n.startsWith("second") && n.endsWith(".tmp"));
    i++
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  await child.status;
  const left = await torn();
  assert.ok(left.includes("first") && left.some((n) => n.endsWith(".tmp")), `left behind: ${left}`);
  assert.ok(!left.includes("second"), "the killed stage has no output folder");

  const { result } = await run(text(1), runDir);
  assert.ok(result.ok);
  assert.deepEqual(probe.calls, [`write:${word}b`]);
  assert.deepEqual((await torn()).sort(), ["first", "second"]);
  assert.equal(await Deno.readTextFile(join(stages, "second", "words.txt")), `${word}b\n`.repeat(3));
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("runPlan() stops scheduling when aborted and marks what did not finish as cancelled", async () => {
  const runDir = await Deno.makeTempDir();
  const words = randomWords(3);
  const text = wordsPipeline(words, [1]).replace("count: 1}", "count: 1, delayMs: 50}");
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 10);
  const plan = planPipeline(parsePipeline("t.yaml", text), registry);
  const result = await runPlan(plan, { runDir, registry, jobs: 1, reporter: quiet(), signal: controller.signal });
  assert.equal(result.ok, false);
  assert.deepEqual([...result.stages.values()].map((o) => o.status), [
    "cancelled",
    "cancelled",
    "cancelled",
    "cancelled",
  ]);
  assert.equal(JSON.parse(await Deno.readTextFile(result.manifestPath)).status, "cancelled");
  await assert.rejects(Deno.stat(join(runDir, "run.lock")));
  await Deno.remove(runDir, { recursive: true });
});
