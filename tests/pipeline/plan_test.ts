import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError, InputErrors } from "../../core/errors.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { Interpolation, OutputRef } from "../../pipeline/refs.ts";
import { testRegistry } from "./_test_stages.ts";

function plan(text: string, sets: string[] = []) {
  return planPipeline(parsePipeline("p.yaml", text, sets), testRegistry(), { checkInputs: true });
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
    /^p\.yaml:3:11: Unknown stage kind "train" \(known: count, join, read, write\)/,
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

Deno.test("a matrix axis can name a variable, so one --set picks the instances of every stage", () => {
  const text = "vars: {ws: [x, y], n: 1}\nstages:\n  a:\n    uses: write\n    matrix: {w: '${vars.ws}'}\n" +
    "    with: {word: '${matrix.w}', count: 1}\n  b:\n    uses: join\n    matrix: {w: '${vars.ws}'}\n" +
    "    with: {files: ['${a.file}']}\n";
  assert.deepEqual(plan(text).stages.map((s) => s.id), ["a[w=x]", "a[w=y]", "b[w=x]", "b[w=y]"]);
  const word = `w${Math.floor(Math.random() * 1e6)}`;
  const one = plan(text, [`vars.ws=[${word}]`]);
  assert.deepEqual(one.stages.map((s) => s.id), [`a[w=${word}]`, `b[w=${word}]`]);
  assert.deepEqual(one.stages[1].deps, [`a[w=${word}]`]);
  assert.match(errorOf(text, ["vars.ws=[]"]), /^p\.yaml:5:17: "\$\{vars\.ws\}" must be a non-empty list .*got "\[\]"/);
  assert.match(errorOf(text, ["vars.ws=x"]), /must be a non-empty list of strings, numbers or booleans, got "\\"x\\""/);
  assert.match(
    errorOf(text.replace("'${vars.ws}'}\n    with: {word", "'${vars.zz}'}\n    with: {word")),
    /Unknown variable "\$\{vars\.zz\}"/,
  );
  assert.match(
    errorOf(text, ["a.matrix.w=x${vars.ws}"]),
    /^--set "a\.matrix\.w=x\$\{vars\.ws\}": Expected a list of values or one/,
  );
});

function errorsOf(text: string, sets: string[] = []): string[] {
  try {
    plan(text, sets);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    return e instanceof InputErrors ? [...e.problems] : [e.message];
  }
  throw new Error("expected an error");
}

Deno.test("planPipeline() reports every problem of a file at once, each with its line and column", () => {
  const problems = errorsOf(
    "stages:\n  a: {uses: nope}\n  b:\n    uses: write\n    with: {word: 1, count: three}\n" +
      "  c:\n    uses: write\n    with: {word: '${vars.zz}', count: 1}\n  d:\n    uses: join\n    needs: [zz]\n" +
      "    with: {files: [x]}\n",
  );
  assert.equal(problems.length, 5, problems.join("\n"));
  assert.match(problems[0], /^p\.yaml:2:13: Unknown stage kind "nope"/);
  assert.match(problems[1], /^p\.yaml:8:18: Unknown variable "\$\{vars\.zz\}"/);
  assert.match(problems[2], /^p\.yaml:11:13: Unknown stage "zz" in needs/);
  assert.match(problems[3], /^p\.yaml:5:18: Invalid "stages\.b\.with\.word": expected string, received number/);
  assert.match(problems[4], /^p\.yaml:5:28: Invalid "stages\.b\.with\.count": expected number/);
  const joined = new InputErrors(problems);
  assert.equal(joined.message.split("\n").length, 5, "one line per problem");
});

Deno.test("planPipeline() reports a mistake shared by all matrix instances once", () => {
  const problems = errorsOf(
    "stages:\n  a:\n    uses: write\n    matrix: {w: [x, y, z]}\n    with: {word: 1, count: 1}\n",
  );
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(problems[0], /^p\.yaml:5:18: Invalid "stages\.a\.with\.word": .* in a\[w=x\]\)$/);
});

Deno.test("parsePipeline() reports every structural problem at once", () => {
  const problems = errorsOf("stages:\n  a: {uses: write, wiht: {}}\n  b: {uses: write, neds: a}\nnmae: x\n");
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.deepEqual(problems.map((p) => p.match(/^p\.yaml:(\d+):/)?.[1]), ["2", "3", "4"]);
});

Deno.test("planPipeline() checks the files and folders a stage reads before anything runs", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "in.txt"), folder = join(dir, "sub");
  await Deno.writeTextFile(file, "x");
  await Deno.mkdir(folder);
  const ok = plan(`stages:\n  r: {uses: read, with: {file: "${file}", folder: "${folder}"}}\n`);
  assert.equal(ok.stages.length, 1);
  const more = `      more: [{file: "${dir}/gone.txt"}, {file: "${dir}/no/such/dir/x.txt"}]`;
  const problems = errorsOf(
    `stages:\n  r:\n    uses: read\n    with:\n      file: "${folder}"\n      folder: "${file}"\n${more}\n`,
  );
  const col = (text: string, nth = 0) => more.split(text)[0].length + 1 + nth;
  assert.deepEqual(problems, [
    `p.yaml:5:13: ${JSON.stringify(folder)} is a folder, expected a file (stages.r.with.file)`,
    `p.yaml:6:15: ${JSON.stringify(file)} is a file, expected a folder (stages.r.with.folder)`,
    `p.yaml:7:${col(`"${dir}/gone.txt"`)}: No such file "${dir}/gone.txt" (stages.r.with.more[0].file)`,
    `p.yaml:7:${col(`"${dir}/no/`)}: No such file "${dir}/no/such/dir/x.txt" (folder "${dir}/no" does not exist) ` +
    `(stages.r.with.more[1].file)`,
  ]);
  // What another stage will write does not exist yet; nor, maybe, what a stage ordered by needs: reads.
  const later = plan(
    `stages:\n  w: {uses: write, with: {word: a, count: 1}}\n  r: {uses: read, with: {file: "\${w.file}"}}\n` +
      `  s: {uses: read, needs: w, with: {file: "${dir}/made_by_w.txt"}}\n`,
  );
  assert.deepEqual(later.stages.map((s) => s.id), ["w", "r", "s"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("planPipeline() leaves the inputs unchecked unless asked (a plan for another machine)", () => {
  const text = `stages:\n  r: {uses: read, with: {file: "/nowhere/at/all.txt"}}\n`;
  assert.equal(planPipeline(parsePipeline("p.yaml", text), testRegistry()).stages.length, 1);
  assert.match(errorOf(text), /^p\.yaml:2:32: No such file "\/nowhere\/at\/all\.txt"/);
});
