import assert from "node:assert/strict";
import { join } from "node:path";
import { makeFakeRuns } from "../report/_fake_runs.ts";

const CLI = new URL("../../main.ts", import.meta.url).pathname;

async function cli(args: string[], cwd: string) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      "--allow-run",
      CLI,
      ...args,
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

Deno.test("pipeline run writes the report, ends with its path, and skips it when nothing changed", async () => {
  const fake = await makeFakeRuns(["bce", "eqlv2"], 5);
  const yaml = join(fake.dir, "p.yaml");
  await Deno.writeTextFile(
    yaml,
    `name: cli_test
stages:
  report:
    uses: report
    with:
      runs:
${fake.runs.map((r) => `        - {name: ${r.name}, metrics: "${r.metrics}", trainLog: "${r.trainLog}"}`).join("\n")}
`,
  );
  const dry = await cli(["run", yaml, "--dry"], fake.dir);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /^run {2}report \(report\)\n {5}no finished output/m);
  await assert.rejects(Deno.stat(join(fake.dir, "runs")), "--dry creates nothing");

  const first = await cli(["run", yaml], fake.dir);
  assert.equal(first.code, 0, first.err);
  const last = first.out.trim().split("\n").at(-1)!;
  assert.equal(last, "report: runs/cli_test/stages/report/index.html");
  assert.match(await Deno.readTextFile(join(fake.dir, last.slice(8))), /<h1>tailor report<\/h1>/);
  assert.match(first.err, /report: run\b/);

  const second = await cli(["run", yaml, "--explain", "--set", "report.title=Changed"], fake.dir);
  assert.equal(second.code, 0, second.err);
  assert.match(second.err, /report: run, parameters changed: with\.title/);
  const third = await cli(["explain", yaml, "--set", "report.title=Changed"], fake.dir);
  assert.match(third.out, /^skip report \(report\)\n {5}up to date/m);
  await Deno.remove(fake.dir, { recursive: true });
});

Deno.test("pipeline prints one 'error:' line with file, line and column and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "bad.yaml"), "stages:\n  r:\n    uses: report\n    with:\n      runs: 3\n");
  const bad = await cli(["run", "bad.yaml"], dir);
  assert.equal(bad.code, 1);
  assert.equal(
    bad.err,
    `error: bad.yaml:5:13: Invalid "stages.r.with.runs": expected array, received number (got 3)` +
      ` (stage kind "report")\n`,
  );
  const jobs = await cli(["run", "bad.yaml", "--jobs", "0"], dir);
  assert.equal(jobs.code, 1);
  assert.match(jobs.err, /^error: Invalid --jobs "0": expected a whole number >= 1\n$/);
  const missing = await cli(["dag", "nope.yaml"], dir);
  assert.match(missing.err, /^error: Cannot read pipeline "nope\.yaml": /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the command line prints every problem of a file, one 'error:' line each, and names itself in --help", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    join(dir, "bad.yaml"),
    "stages:\n  r:\n    uses: report\n    with:\n      runs: 3\n      titel: x\n  s: {uses: nope}\n",
  );
  const bad = await cli(["run", "bad.yaml", "--dry"], dir);
  assert.equal(bad.code, 1);
  const lines = bad.err.trimEnd().split("\n");
  assert.match(lines.shift()!, /^error: bad\.yaml:7:13: Unknown stage kind "nope" \(known: .*\btrain\b.*\)$/);
  assert.deepEqual(lines, [
    `error: bad.yaml:5:13: Invalid "stages.r.with.runs": expected array, received number (got 3) (stage kind "report")`,
    `error: bad.yaml:6:7: Unknown key "titel" in "stages.r.with" (stage kind "report")`,
  ]);
  const train = await cli(["train", "--help"], dir);
  assert.equal(train.code, 0, train.err);
  assert.match(train.out, /^Usage: deno task train \[options\] \[pipeline\]\n/);
  const run = await cli(["run", "--help"], dir);
  assert.match(run.out, /^Usage: deno task pipeline run \[options\] \[pipeline\]\n/);
  await Deno.remove(dir, { recursive: true });
});
