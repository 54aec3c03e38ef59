import assert from "node:assert/strict";
import { hostname } from "node:os";
import { join } from "node:path";
import { runStageCli } from "../../pipeline/stage_cli.ts";
import { testRegistry } from "./_test_stages.ts";

const child = new URL("./_stage_run_child.ts", import.meta.url).pathname;

function words(word: string, delayMs = 0): string {
  return `name: t
stages:
  a: {uses: write, with: {word: ${word}a, count: 2, delayMs: ${delayMs}}}
  b: {uses: write, with: {word: ${word}b, count: 3, delayMs: ${delayMs}}}
  c: {uses: join, with: {files: ["\${a.file}", "\${b.file}"]}}
`;
}

async function setup(text: string): Promise<{ dir: string; file: string; runDir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tailor_stage_run_" });
  const file = join(dir, "p.yaml");
  await Deno.writeTextFile(file, text);
  return { dir, file, runDir: join(dir, "run") };
}

/** Run `stage run` in this process, capturing what it prints as errors. */
async function stageRun(args: string[]): Promise<{ code: number; errors: string }> {
  const lines: string[] = [];
  const error = console.error, log = console.log;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  console.log = () => {};
  try {
    return { code: await runStageCli(["run", ...args], testRegistry()), errors: lines.join("\n") };
  } finally {
    console.error = error;
    console.log = log;
  }
}

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", child, "run", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
}

async function finish(p: Deno.ChildProcess): Promise<{ code: number; text: string }> {
  const out = await p.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

/** [start, end] in ms of each attempt in a stage's log. */
async function attempts(runDir: string, stage: string): Promise<[number, number][]> {
  const lines = (await Deno.readTextFile(join(runDir, "logs", `${stage}.log`))).trim().split("\n");
  const at = (l: string) => Date.parse(l.split(" ")[0]);
  const starts = lines.filter((l) => / start /.test(l)).map(at),
    ends = lines.filter((l) => / done in /.test(l)).map(at);
  return starts.map((s, i) => [s, ends[i]]);
}

Deno.test("stage run refuses missing, stale or absent inputs and a run directory in use, naming stage and file", async () => {
  const word = `w${Math.random().toString(36).slice(2, 7)}`;
  const { dir, file, runDir } = await setup(words(word));
  try {
    const missing = await stageRun([file, "c", "--run-dir", runDir]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.errors,
      new RegExp(`its input stage "a" has not finished \\(missing "${runDir}/stages/a/_stage\\.json"\\)`),
    );
    assert.equal((await stageRun([file, "a", "--run-dir", runDir])).code, 0);
    assert.equal((await stageRun([file, "b", "--run-dir", runDir])).code, 0);
    const stale = await stageRun([file, "c", "--run-dir", runDir, "--set", "a.count=4"]);
    assert.equal(stale.code, 2);
    assert.match(
      stale.errors,
      /its input stage "a" is out of date in .*\(parameters changed: with\.count\); run it first/,
    );
    await Deno.remove(join(runDir, "stages", "b", "words.txt"));
    const gone = await stageRun([file, "c", "--run-dir", runDir]);
    assert.match(gone.errors, new RegExp(`its input file "${runDir}/stages/b/words\\.txt" is missing`));
    assert.match(
      (await stageRun([file, "d", "--run-dir", runDir])).errors,
      /Unknown stage "d" in .* \(stages: a, b, c\)/,
    );
    await Deno.writeTextFile(
      join(runDir, "run.lock"),
      JSON.stringify({ pid: Deno.pid, host: hostname(), started: "now" }),
    );
    const busy = await stageRun([file, "a", "--run-dir", runDir]);
    assert.match(busy.errors, new RegExp(`is in use by a pipeline run: pid ${Deno.pid}`));
    await Deno.remove(join(runDir, "run.lock"));
    assert.equal((await stageRun([file, "b", "--run-dir", runDir])).code, 0, "b runs again after its file was lost");
    assert.equal((await stageRun([file, "c", "--run-dir", runDir])).code, 0);
    assert.equal(
      await Deno.readTextFile(join(runDir, "stages", "c", "joined.txt")),
      `${word}a\n`.repeat(2) + `${word}b\n`.repeat(3),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two processes run independent stages of one run directory at once; two on the same stage run it once", async () => {
  const word = `w${Math.random().toString(36).slice(2, 7)}`;
  const { dir, file, runDir } = await setup(words(word, 4000));
  try {
    const [a, b] = await Promise.all(
      [spawn([file, "a", "--run-dir", runDir]), spawn([file, "b", "--run-dir", runDir])].map(finish),
    );
    assert.equal(a.code, 0, a.text);
    assert.equal(b.code, 0, b.text);
    const [[a0, a1]] = await attempts(runDir, "a"), [[b0, b1]] = await attempts(runDir, "b");
    assert.ok(a0 < b1 && b0 < a1, "the two stages ran at the same time");

    // The same stage twice at once: one runs, the other waits for its lock and finds it up to date.
    await Deno.remove(join(runDir, "stages", "a"), { recursive: true });
    const twice = await Promise.all(
      [spawn([file, "a", "--run-dir", runDir]), spawn([file, "a", "--run-dir", runDir])].map(finish),
    );
    assert.deepEqual(twice.map((t) => t.code), [0, 0], twice.map((t) => t.text).join("\n"));
    assert.equal((await attempts(runDir, "a")).length, 2, "a ran once more, not twice");
    assert.equal(twice.filter((t) => /a: up to date/.test(t.text)).length, 1);

    const c = await finish(spawn([file, "c", "--run-dir", runDir]));
    assert.equal(c.code, 0, c.text);
    assert.equal(
      await Deno.readTextFile(join(runDir, "stages", "c", "joined.txt")),
      `${word}a\n`.repeat(2) + `${word}b\n`.repeat(3),
    );
    const manifest = JSON.parse(await Deno.readTextFile(join(runDir, "manifest.json")));
    assert.equal(manifest.status, "ok");
    assert.deepEqual(Object.keys(manifest.stages), ["a", "b", "c"]);
    assert.deepEqual(Object.values(manifest.stages).map((s) => (s as { status: string }).status), [
      "skipped",
      "done",
      "done",
    ]);
    const left = [...Deno.readDirSync(join(runDir, "stages"))].map((e) => e.name).sort();
    assert.deepEqual(left, ["a", "b", "c"], "no torn temporary folder left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
