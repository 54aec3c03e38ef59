import assert from "node:assert/strict";
import {
  evaluate,
  parseGroundTruth,
  readGroundTruth,
  readResults,
  reportFromState,
  writeSyntheticCase,
} from "../../eval/mod.ts";
import { rng, SEED, tinyGt, writeCase } from "./_util.ts";

const gtJson = tinyGt({
  images: [{ id: 3 }, { id: 17 }, { id: 250 }],
  categories: [{ id: 1, frequency: "f" }, { id: 4, frequency: "r" }],
  annotations: [],
});
const gt = parseGroundTruth(gtJson, "gt.json", false);

/** A number written in one of JSON's spellings, parsing back to `v`. */
function spell(v: number, pick: number): string {
  if (pick === 0) return JSON.stringify(v);
  if (pick === 1) return v.toExponential();
  if (pick === 2) return v.toPrecision(17);
  return v.toExponential(16).replace("e", "E");
}

Deno.test("readResults() reads any JSON layout, across chunk boundaries, into the values JSON.parse gives", async () => {
  const r = rng(21);
  const items: string[] = [];
  const want: { image: number; category: number; score: number; bbox: number[] }[] = [];
  const n = 40 + r.int(40);
  for (let i = 0; i < n; i++) {
    const ws = () => [" ", "\n", "\t", "", "\r\n  "][r.int(5)];
    const img = [3, 17, 250][r.int(3)], cat = [1, 4, 77][r.int(3)];
    const score = r.float() * (r.float() < 0.2 ? 1e-7 : 1) + 1e-9;
    const bbox = [r.uniform(-5, 600), r.uniform(0, 400), r.uniform(0.01, 300), r.uniform(0.01, 300)];
    const fields = [
      `"image_id"${ws()}:${ws()}${img}`,
      `"category_id":${cat}`,
      `"bbox":[${bbox.map((v) => spell(v, r.int(4))).join(`,${ws()}`)}]`,
      `"score":${spell(score, r.int(4))}`,
      `"extra":{"a":[1,{"b":"x\\"]}"}],"c":null}`,
      `"note":"\\\\ \\u00e9 ,]}"`,
    ];
    r.shuffle(fields);
    items.push(`${ws()}{${ws()}${fields.join(`,${ws()}`)}${ws()}}`);
    want.push({ image: gt.imageIndex.get(img)!, category: gt.categoryIndex.get(cat) ?? -1, score, bbox });
  }
  const text = `${"\n".repeat(r.int(3))}[${items.join(",")}]\n`;
  for (const v of JSON.parse(text)) assert.equal(typeof v.score, "number");
  const p = await writeCase(gtJson, text);
  for (const chunkBytes of [1, 2 + r.int(30), 4096]) {
    const dt = await readResults(p.dt, gt, { chunkBytes, unknownCategories: "drop" });
    assert.equal(dt.count, n);
    want.forEach((w, i) => {
      assert.equal(dt.image[i], w.image);
      assert.equal(dt.category[i], w.category);
      assert.equal(dt.score[i], w.score);
      assert.deepEqual(Array.from(dt.bbox.subarray(4 * i, 4 * i + 4)), w.bbox);
      assert.equal(dt.hasBbox[i], 1);
    });
  }
  await Deno.remove(p.dir, { recursive: true });
});

Deno.test("readResults() selecting while reading gives evaluate() the state of reading everything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_runs_" });
  try {
    const c = await writeSyntheticCase(dir, {
      images: 30,
      seed: SEED,
      groups: [6, 8, 7],
      resultsPerImage: [15, 60],
      boxesPerImage: 5,
    });
    const gt = await readGroundTruth(c.gt, false);
    const text = await Deno.readTextFile(c.dt);
    // The same results with one image's run split in two: the reader must notice and keep everything.
    const items: unknown[] = JSON.parse(text);
    const split = [...items.slice(0, 5), ...items.slice(items.length - 5), ...items.slice(5, items.length - 5)];
    await Deno.writeTextFile(`${dir}/split.json`, JSON.stringify(split));
    const r = rng(23);
    for (const [file, runs] of [[c.dt, true], [`${dir}/split.json`, false]] as const) {
      // A cap that cuts through the 1e-4 score ties of many images.
      const maxDets = 10 + r.int(30);
      const all = await readResults(file, gt);
      const a = evaluate(gt, all, { maxDets });
      // The range reader (plain results) and the general reader, with small reads so elements cross them.
      for (const ranges of [true, false]) {
        const chunkBytes = 1000 + r.int(5000);
        const selected = await readResults(file, gt, { select: { maxDets }, chunkBytes, ranges });
        assert.equal(selected.selected !== undefined, runs, file);
        if (runs) assert.ok(selected.count < all.count && selected.count > 0);
        const b = evaluate(gt, selected, { maxDets });
        assert.deepEqual(b.counts, a.counts);
        assert.ok(a.counts.dtAfterLimits < a.counts.dtInFile, "the cap cuts");
        assert.deepEqual(b.numGt, a.numGt);
        assert.deepEqual(b.precision, a.precision);
        assert.deepEqual(b.recall, a.recall);
      }
      assert.ok(reportFromState(a).results.AP > 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readResults() refuses a category id the ground truth lacks, naming it and its JSON path", async () => {
  const p = await writeCase(gtJson, [
    { image_id: 3, category_id: 4, bbox: [1, 2, 3, 4], score: 0.5 },
    { image_id: 17, category_id: 91, bbox: [1, 2, 3, 4], score: 0.5 },
  ]);
  try {
    await assert.rejects(
      () => readResults(p.dt, gt),
      /Cannot read "\[1\]\.category_id" in "dt\.json": category id 91 is not in "gt\.json"/,
    );
    const dropped = await readResults(p.dt, gt, { unknownCategories: "drop" });
    assert.deepEqual(Array.from(dropped.category), [1, -1]);
    assert.equal(dropped.unknownCategories, 1);
  } finally {
    await Deno.remove(p.dir, { recursive: true });
  }
});
