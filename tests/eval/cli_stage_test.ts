import assert from "node:assert/strict";
import { runEvalCli } from "../../eval/cli.ts";
import { directContext } from "../../pipeline/stage.ts";
import { evalParams, evalStage } from "../../tasks/eval.ts";
import { FIXTURES } from "./_util.ts";

const CASE = `${FIXTURES}c02_small/`;

Deno.test("eval CLI prints the reference's table and writes results keyed by its metric names", async () => {
  const expected = JSON.parse(await Deno.readTextFile(`${CASE}expected_bbox.json`));
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_cli_" });
  const lines: string[] = [];
  const original = console.log;
  console.log = (m: string) => lines.push(m);
  try {
    const code = await runEvalCli(["--gt", `${CASE}gt.json`, "--dt", `${CASE}dt.json`, "--out", `${dir}/m.json`]);
    assert.equal(code, 0);
  } finally {
    console.log = original;
  }
  assert.deepEqual(lines, expected.print_results);
  const written = JSON.parse(await Deno.readTextFile(`${dir}/m.json`));
  assert.deepEqual(Object.keys(written.results), Object.keys(expected.results));
  for (const [k, v] of Object.entries(expected.results)) {
    assert.ok(Math.abs(written.results[k] - (v as number)) <= 1e-12, k);
  }
  assert.equal(written.per_category.length, expected.per_category.length);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval stage writes metrics.json and returns the headline numbers of AP-fixed and AP-pooled", async () => {
  const fixed = JSON.parse(await Deno.readTextFile(`${CASE}expected_ap_fixed.json`)).results;
  const pooled = JSON.parse(await Deno.readTextFile(`${CASE}expected_ap_pooled.json`)).results;
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_stage_" });
  const params = evalParams.parse({ gt: `${CASE}gt.json`, dt: `${CASE}dt.json`, apFixed: true, apPooled: true });
  const out = evalStage.output.parse(await evalStage.run(params, directContext(dir)));
  assert.ok(Math.abs(out.AP - fixed.AP) <= 1e-12 && Math.abs(out.AR - fixed["AR@-1"]) <= 1e-12);
  const written = JSON.parse(await Deno.readTextFile(out.metrics));
  for (const k of Object.keys(pooled)) assert.ok(Math.abs(written.results[k] - pooled[k]) <= 1e-12, k);
  assert.ok("AR@-1" in written.results && !("AR@300" in written.results));
  await Deno.remove(dir, { recursive: true });
});
