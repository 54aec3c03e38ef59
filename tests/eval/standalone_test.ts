import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { writeSyntheticCase } from "../../eval/mod.ts";
import { FIXTURES, SEED } from "./_util.ts";

const BUILD = fileURLToPath(new URL("../../eval/build.ts", import.meta.url));
const CLI = fileURLToPath(new URL("../../eval/main.ts", import.meta.url));

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, clearEnv: env !== undefined, stdout: "piped", stderr: "piped" })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("deno task build makes a tailor-eval that runs without Deno and prints and writes what deno task eval does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_exe_" });
  try {
    const exe = `${dir}/tailor-eval`;
    const built = await run(Deno.execPath(), ["run", "-A", BUILD, "--out", exe]);
    assert.equal(built.code, 0, built.stderr);
    const c02 = `${FIXTURES}c02_small/`, s01 = `${FIXTURES}s01_segm/`;
    const cases = [
      ["--gt", `${c02}gt.json`, "--dt", `${c02}dt.json`],
      ["--gt", `${c02}gt.json`, "--dt", `${c02}dt.json`, "--ap-fixed", "--ap-pooled"],
      ["--gt", `${s01}gt.json`, "--dt", `${s01}dt_with_bbox.json`, "--iou-type", "bbox,segm", "--format", "lvis-api"],
    ];
    for (const [i, args] of cases.entries()) {
      // No PATH, no HOME, started elsewhere: nothing from Deno or this repository is reachable.
      const exeRun = await run(exe, [...args, "--out", `${dir}/exe${i}.json`], {});
      const denoRun = await run(Deno.execPath(), ["run", "-A", CLI, ...args, "--out", `${dir}/deno${i}.json`]);
      assert.equal(exeRun.code, 0, exeRun.stderr);
      assert.equal(exeRun.stdout, denoRun.stdout);
      assert.ok(exeRun.stdout.includes("Average Precision"));
      assert.equal(await Deno.readTextFile(`${dir}/exe${i}.json`), await Deno.readTextFile(`${dir}/deno${i}.json`));
    }
    const expected = JSON.parse(await Deno.readTextFile(`${c02}expected_bbox.json`));
    const written = JSON.parse(await Deno.readTextFile(`${dir}/exe0.json`));
    for (const [k, v] of Object.entries(expected.results)) {
      assert.ok(Math.abs(written.results[k] - (v as number)) <= 1e-12, k);
    }
    const bad = await run(exe, ["--gt", `${c02}gt.json`, "--dt", `${dir}/missing.json`], {});
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: Cannot read results ".*missing\.json": .*\n$/);
    // Worker threads (Node's under the executable, Deno's under deno task eval): a results file large enough
    // to be read in ranges, the same bytes out as with one thread.
    const big = await writeSyntheticCase(`${dir}/big`, { images: 400, seed: SEED });
    assert.ok((await Deno.stat(big.dt)).size > 8 << 20);
    const args = (out: string) => ["--gt", big.gt, "--dt", big.dt, "--quiet", "--out", `${dir}/${out}.json`];
    const env = (threads: string) => ({ ...Deno.env.toObject(), TAILOR_EVAL_THREADS: threads });
    const one = await run(Deno.execPath(), ["run", "-A", CLI, ...args("one")], env("1"));
    const exeThreads = await run(exe, args("exe3"), { TAILOR_EVAL_THREADS: "3" });
    const denoThreads = await run(Deno.execPath(), ["run", "-A", CLI, ...args("deno3")], env("3"));
    // No note: every worker started and answered.
    for (const r of [one, exeThreads, denoThreads]) (assert.equal(r.code, 0, r.stderr), assert.equal(r.stderr, ""));
    const want = await Deno.readTextFile(`${dir}/one.json`);
    assert.equal(await Deno.readTextFile(`${dir}/exe3.json`), want);
    assert.equal(await Deno.readTextFile(`${dir}/deno3.json`), want);
    assert.ok(JSON.parse(want).results.AP > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
