import assert from "node:assert/strict";
import { parseGroundTruth, readResults } from "../../eval/mod.ts";
import { rng, tinyGt, writeCase } from "./_util.ts";

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
