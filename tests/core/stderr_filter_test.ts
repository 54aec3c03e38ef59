import assert from "node:assert/strict";
import { StderrFilter } from "../../core/stderr_filter.ts";
import { rng, SEED } from "../_util.ts";

/** The block wgpu-hal's GL backend logged once per texture bind. */
const HEURISTIC = "wgpu-hal heuristics assumed that the view dimension will be equal to `D2` rather than `D2Array`.\n" +
  "`D2` textures with `depth_or_array_layers == 1` are assumed to have view dimension `D2`\n" +
  "`D2` textures with `depth_or_array_layers > 1` are assumed to have view dimension `D2Array`\n\n";
const OTHER = "wgpu_hal::vulkan: Unable to find layer\n  with an indented detail\n\n";

/** A flood as wgpu writes it, with tailor's own lines in between. */
function flood(n: number): { text: string; ours: string[] } {
  const ours: string[] = [];
  let text = "";
  for (let i = 0; i < n; i++) {
    text += HEURISTIC;
    if (i % 7 === 3) {
      const line = `[2026-12-05 03:25:26] train: train ${i}% (${i}/100)\n`;
      ours.push(line);
      text += line;
    }
    if (i === 5) text += OTHER;
  }
  return { text: text + "error: a real failure\n", ours: [...ours, "error: a real failure\n"] };
}

function run(text: string, cuts: number[]): string {
  let out = "";
  const f = new StderrFilter((t) => out += t);
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    f.push(text.slice(at, cut));
    at = cut;
  }
  f.end();
  return out;
}

Deno.test(`StderrFilter shows each wgpu block once, counts the repeats, and passes the rest in order (seed ${SEED})`, () => {
  const r = rng(71);
  const { text, ours } = flood(40);
  const expected = HEURISTIC + ours.slice(0, 1).join("") + OTHER + ours.slice(1).join("") +
    "note: 39 repeats of the wgpu message above left out (TAILOR_STDERR=raw shows them all)\n";
  // Chunks end anywhere, as pipe reads do: inside a line, a block, or the word "wgpu".
  for (let trial = 0; trial < 20; trial++) {
    const cuts = Array.from({ length: 1 + r.int(60) }, () => r.int(text.length)).sort((a, b) => a - b);
    assert.equal(run(text, trial === 0 ? [] : cuts), expected, `cuts ${cuts}`);
  }
  const f = new StderrFilter(() => {});
  f.push(text);
  f.end();
  assert.deepEqual(f.counts, { shown: 2, repeats: 39 });
});

Deno.test("StderrFilter writes a partial line that is not wgpu's at once (a bar redrawn in place)", () => {
  const out: string[] = [];
  const f = new StderrFilter((t) => out.push(t));
  f.push("\r 40% | train");
  assert.deepEqual(out, ["\r 40% | train"], "not held until a newline");
  f.push(" 41%\nwg");
  assert.deepEqual(out, ["\r 40% | train", " 41%\n"], "a line that may be wgpu's is held");
  f.push("pu_hal: x\n\nwarning: done\n");
  f.end();
  assert.equal(out.join(""), "\r 40% | train 41%\nwgpu_hal: x\n\nwarning: done\n");
});

Deno.test("runFilteringStderr() filters a child's stderr, passes its stdout and returns its exit code", async () => {
  const script = `const e = new TextEncoder();
for (let i = 0; i < 30; i++) Deno.stderr.writeSync(e.encode(${JSON.stringify(HEURISTIC)}));
console.log("out line");
console.error("error: kept");
Deno.exit(3);`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  // The filter runs in a child of its own so that its stderr can be captured here.
  const driver = `import { runFilteringStderr } from ${
    JSON.stringify(new URL("../../core/stderr_filter.ts", import.meta.url).href)
  };
Deno.exit(await runFilteringStderr([Deno.execPath(), "run", ${JSON.stringify(file)}]));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", driver],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  await Deno.remove(file);
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 3);
  assert.equal(new TextDecoder().decode(out.stdout), "out line\n");
  assert.equal(
    err,
    HEURISTIC + "error: kept\nnote: 29 repeats of the wgpu message above left out (TAILOR_STDERR=raw shows them all)\n",
  );
});
