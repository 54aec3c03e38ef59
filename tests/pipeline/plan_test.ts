import assert from "node:assert/strict";
import { InputError } from "../../core/errors.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { Interpolation, OutputRef } from "../../pipeline/refs.ts";
import { testRegistry } from "./_test_stages.ts";

function plan(text: string, sets: string[] = []) {
  return planPipeline(parsePipeline("p.yaml", text, sets), testRegistry());
}

function errorOf(text: string, sets: string[] = []): string {
  try {
    plan(text, sets);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    return e.message;
  }
  throw new Error("expected an error");
}

const cases: [string, string, RegExp][] = [
  ["YAML syntax", "stages:\n  a:\n    uses: write\n    with: {word: x\n", /^p\.yaml:5:1: Invalid YAML: /],
  [
    "duplicate key",
    "stages:\n  a: {uses: write}\n  a: {uses: write}\n",
    /^p\.yaml:3:3: Invalid YAML: Map keys must be unique/,
  ],
  ["unknown top-level key", "stagez: {}\nstages:\n  a: {uses: write}\n", /^p\.yaml:1:1: Unknown key "stagez"/],
  [
    "unknown stage key",
    "stages:\n  a:\n    uses: write\n    wiht: {}\n",
    /^p\.yaml:4:5: Unknown key "wiht" in "stages\.a"/,
  ],
  [
    "wrong parameter type",
    "stages:\n  a:\n    uses: write\n    with:\n      word: x\n      count: three\n",
    /^p\.yaml:6:14: Invalid "stages\.a\.with\.count": expected number, received string \(got "three"\)/,
  ],
  [
    "unknown parameter",
    "stages:\n  a:\n    uses: write\n    with:\n      word: x\n      count: 2\n      colour: red\n",
    /^p\.yaml:7:7: Unknown key "colour" in "stages\.a\.with"/,
  ],
  [
    "missing parameter",
    "stages:\n  a:\n    uses: write\n    with:\n      word: x\n",
    /^p\.yaml:5:7: Missing "stages\.a\.with\.count"/,
  ],
  [
    "unknown stage kind",
    "stages:\n  a:\n    uses: train\n",
    /^p\.yaml:3:11: Unknown stage kind "train" \(known: count, join, write\)/,
  ],
  [
    "cycle",
    "stages:\n  a:\n    uses: join\n    with: {files: ['${b.file}']}\n  b:\n    uses: join\n    with:\n      files: ['${a.file}']\n",
    /^p\.yaml:2:3: Stages form a cycle: a -> b -> a$/,
  ],
  [
    "missing output",
    "stages:\n  a: {uses: write, with: {word: x, count: 1}}\n  b:\n    uses: join\n    with:\n      files: ['${a.path}']\n",
    /^p\.yaml:6:15: Stage "a" has no output "path" \(outputs: file, lines\)/,
  ],
  [
    "output of the wrong type",
    "stages:\n  a: {uses: write, with: {word: x, count: 1}}\n  b:\n    uses: join\n    with:\n      files: ['${a.file}']\n      extra: ${a.file}\n",
    /^p\.yaml:7:14: Invalid "stages\.b\.with\.extra": expected number, received string \(got "\$\{a\.file\}"\)/,
  ],
  ["unknown need", "stages:\n  a:\n    uses: write\n    needs: [zz]\n", /^p\.yaml:4:13: Unknown stage "zz" in needs/],
  [
    "unknown variable",
    "stages:\n  a:\n    uses: write\n    with: {word: '${vars.nope}', count: 1}\n",
    /^p\.yaml:4:18: Unknown variable/,
  ],
  [
    "ambiguous reference",
    "stages:\n  a: {uses: write, matrix: {w: [x, y]}, with: {word: '${matrix.w}', count: 1}}\n  b:\n" +
    "    uses: join\n    with:\n      files: ['${a.file}']\n",
    /^p\.yaml:6:15: Reference "\$\{a\.file\}" matches 2 instances of "a"/,
  ],
];

for (const [what, text, expected] of cases) {
  Deno.test(`planPipeline() reports ${what} with file, line and column`, () => {
    assert.match(errorOf(text), expected);
  });
}

Deno.test("planPipeline() expands a matrix, links matching instances and lists them with $each", () => {
  const p = plan(`
vars: {n: 4}
stages:
  words:
    uses: write
    matrix: {word: [alpha, beta], rep: [1, 2]}
    with:
      word: \${matrix.word}-\${matrix.rep}
      count: \${vars.n}
  pair:
    uses: join
    matrix: {word: [alpha, beta]}
    with:
      files:
        - $each: words
          $item: \${words.file}
  all:
    uses: join
    needs: pair
    with:
      files: [{$each: pair, $item: "\${pair.file}"}]
`);
  assert.deepEqual(p.stages.map((s) => s.id).slice(0, 4), [
    "words[word=alpha,rep=1]",
    "words[word=alpha,rep=2]",
    "words[word=beta,rep=1]",
    "words[word=beta,rep=2]",
  ]);
  const words = p.byId.get("words[word=beta,rep=2]")!;
  assert.deepEqual(words.params, { word: "beta-2", count: 4 });
  const pair = p.byId.get("pair[word=beta]")!;
  assert.deepEqual(pair.deps, ["words[word=beta,rep=1]", "words[word=beta,rep=2]"]);
  const files = (pair.params as { files: OutputRef[] }).files;
  assert.deepEqual(files.map((f) => f.stageId), ["words[word=beta,rep=1]", "words[word=beta,rep=2]"]);
  assert.deepEqual(p.byId.get("all")!.deps, ["pair[word=alpha]", "pair[word=beta]"]);
  assert.equal(p.stages.at(-1)!.id, "all");
  assert.equal(p.byId.get("words[word=alpha,rep=1]")!.dir, "words@word=alpha@rep=1");
});

Deno.test("planPipeline() keeps a whole-string reference typed and interpolates one inside text", () => {
  const p = plan(`
vars: {count: 7}
stages:
  a: {uses: write, with: {word: "w\${vars.count}", count: "\${vars.count}"}}
  b: {uses: join, with: {files: ["\${a.file}", "x/\${a.file}/y"]}}
`);
  assert.deepEqual(p.byId.get("a")!.params, { word: "w7", count: 7 });
  const files = (p.byId.get("b")!.params as { files: unknown[] }).files;
  assert.ok(files[0] instanceof OutputRef);
  assert.ok(files[1] instanceof Interpolation);
  assert.deepEqual((files[1] as Interpolation).parts.map((x) => (typeof x === "string" ? x : x.output)), [
    "x/",
    "file",
    "/y",
  ]);
});

Deno.test("--set overrides parameters, variables and matrices, and errors name the argument", () => {
  const text = "vars: {n: 1}\nstages:\n  a:\n    uses: write\n    matrix: {w: [x]}\n" +
    "    with: {word: '${matrix.w}', count: '${vars.n}'}\n";
  const count = 2 + Math.floor(Math.random() * 50);
  const p = plan(text, [`vars.n=${count}`, "a.matrix.w=[p, q]"]);
  assert.deepEqual(p.stages.map((s) => s.params), [{ word: "p", count }, { word: "q", count }]);
  const q = plan(text, [`a.count=${count + 1}`]);
  assert.equal((q.stages[0].params as { count: number }).count, count + 1);
  assert.match(errorOf(text, ["a.count=lots"]), /^--set "a\.count=lots": Invalid "stages\.a\.with\.count"/);
  assert.match(errorOf(text, ["b.count=1"]), /^Cannot use --set "b\.count=1": no stage "b"/);
});
