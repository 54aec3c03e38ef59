import assert from "node:assert/strict";
import { lvisEvalFiles, writeSyntheticCase } from "../../eval/mod.ts";

// Reference numbers from the official LVIS API on a seeded synthetic LVIS v1-like case (see "source" in the file):
// 1203 categories, ~90k results, about half the images over the 300 cap, score ties on a 1e-4 grid.
const REF = new URL("./data/synthetic_300_official.json", import.meta.url);

Deno.test("lvisEval() gives the official API's numbers on a 300-image LVIS v1-like synthetic case", async () => {
  const ref = JSON.parse(await Deno.readTextFile(REF));
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_syn_" });
  try {
    const c = await writeSyntheticCase(dir, { images: ref.case.images, seed: ref.case.seed });
    const report = await lvisEvalFiles(c.gt, c.dt);
    for (const [k, v] of Object.entries(ref.results)) {
      assert.ok(Math.abs(report.results[k] - (v as number)) <= 1e-12, `${k}: ${report.results[k]} vs ${v}`);
    }
    const byId = new Map(report.per_category.map((m) => [m.id, m.AP]));
    assert.ok(ref.per_category.length > 300);
    for (const { id, AP } of ref.per_category) assert.ok(Math.abs(byId.get(id)! - AP) <= 1e-12, `category ${id}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
