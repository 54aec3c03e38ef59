import assert from "node:assert/strict";
import { parseGroundTruth, readGroundTruth } from "../../eval/mod.ts";
import { rng, SEED } from "./_util.ts";

/** A random LVIS ground truth with the things a byte reader can trip on. */
function randomGt(salt: number): Record<string, unknown> {
  const r = rng(salt);
  const categories = Array.from({ length: 5 }, (_, k) => ({
    id: 3 + 2 * k,
    name: `caté "${k}" \\ ✓`,
    frequency: "rcf"[r.int(3)],
    synonyms: [`s${k}`],
  }));
  const images = Array.from({ length: 8 }, (_, i) => ({
    id: 100 + 7 * i,
    height: 300 + r.int(200),
    width: 400 + r.int(200),
    coco_url: `http://x/${i}.jpg`,
    neg_category_ids: [categories[r.int(5)].id],
    not_exhaustive_category_ids: r.float() < 0.5 ? [categories[r.int(5)].id] : [],
  }));
  const annotations = Array.from({ length: 40 + r.int(40) }, (_, a) => {
    const box = [r.uniform(0, 300), r.uniform(0, 200), r.uniform(1, 100), r.uniform(1, 100)].map((v) =>
      r.float() < 0.3 ? Math.fround(v) : Math.round(v * 100) / 100
    );
    const ann: Record<string, unknown> = {
      segmentation: [[box[0], box[1], box[0] + box[2], box[1], box[0] + box[2], box[1] + box[3]]],
      area: r.float() < 0.05 ? 0 : box[2] * box[3],
      iscrowd: 0,
      image_id: images[r.int(8)].id,
      bbox: box,
      category_id: r.float() < 0.05 ? 999 : categories[r.int(5)].id,
      id: a + 1,
    };
    if (r.float() < 0.1) ann.ignore = 1;
    if (r.float() < 0.1) ann.extra = { nested: [1, { k: "]}" }] };
    return ann;
  });
  // LVIS v1 lists the annotations first.
  return { info: { year: 2026 }, annotations, images, licenses: [], categories };
}

/** JSON with random whitespace between tokens (outside strings). */
function spaced(value: unknown, salt: number): string {
  const r = rng(salt);
  return JSON.stringify(value).replace(
    /([,:\[\]{}])(?=(?:[^"\\]|\\.|"(?:[^"\\]|\\.)*")*$)/g,
    (c) => r.float() < 0.3 ? `${c}${[" ", "\n", "\t", "  "][r.int(4)]}` : c,
  );
}

Deno.test(`readGroundTruth() reads in place what JSON.parse and parseGroundTruth give (seed ${SEED})`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_gtfile_" });
  try {
    for (let trial = 0; trial < 4; trial++) {
      const data = randomGt(71 + trial);
      const text = spaced(data, 81 + trial);
      assert.deepEqual(JSON.parse(text), data);
      await Deno.writeTextFile(`${dir}/gt.json`, text);
      for (const keep of [false, true]) {
        const got = await readGroundTruth(`${dir}/gt.json`, keep);
        const want = parseGroundTruth(JSON.parse(text), `${dir}/gt.json`, keep);
        assert.deepEqual(got, want);
        assert.ok(got.annotationCount > 30 && got.annotationIgnore.some((v) => v === 1));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGroundTruth() names the annotation and field that JSON.parse's reading would", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_gtbad_" });
  try {
    const cases: [(a: Record<string, unknown>) => void, RegExp][] = [
      [(a) => (a.bbox = [1, 2, 3]), /"annotations\[5\]\.bbox" in "gt\.json": expected 4 numbers, got 3/],
      [(a) => (a.area = "big"), /"annotations\[5\]\.area" in "gt\.json": expected a number, got the string "big"/],
      [(a) => delete a.image_id, /"annotations\[5\]\.image_id" in "gt\.json": expected a number, got undefined/],
      [(a) => (a.bbox = [1, 2, -3, 4]), /"annotations\[5\]\.bbox" in "gt\.json": expected a non-negative/],
    ];
    for (const [spoil, message] of cases) {
      const data = randomGt(91) as { annotations: Record<string, unknown>[] };
      spoil(data.annotations[5]);
      await Deno.writeTextFile(`${dir}/gt.json`, JSON.stringify(data));
      await assert.rejects(() => readGroundTruth(`${dir}/gt.json`, false), message);
    }
    await Deno.writeTextFile(`${dir}/gt.json`, JSON.stringify(randomGt(92)).replace('"area":', '"area":tru'));
    await assert.rejects(() => readGroundTruth(`${dir}/gt.json`, false), /Cannot parse ".*gt\.json" as JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
