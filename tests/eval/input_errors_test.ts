import assert from "node:assert/strict";
import { InputError } from "../../core/errors.ts";
import { lvisEvalFiles } from "../../eval/mod.ts";
import { runEvalCli } from "../../eval/cli.ts";
import { tinyGt, writeCase } from "./_util.ts";

const goodGt = tinyGt({
  images: [{ id: 1, neg: [2] }],
  categories: [{ id: 1, frequency: "f" }, { id: 2, frequency: "r" }],
  annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 2, 30, 40] }],
});
const goodDt = [{ image_id: 1, category_id: 1, bbox: [1, 2, 30, 40], score: 0.5 }];

async function expectError(gt: unknown, dt: unknown, pattern: RegExp): Promise<void> {
  const p = await writeCase(gt, dt);
  try {
    await assert.rejects(() => lvisEvalFiles(p.gt, p.dt), (e: Error) => {
      assert.ok(e instanceof InputError, `not an InputError: ${e}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    // The CLI says it in one line, exits 1 and leaves no metrics file.
    const out = `${p.dir}/metrics.json`;
    const errors: string[] = [];
    const original = console.error;
    console.error = (m: string) => errors.push(m);
    let code;
    try {
      code = await runEvalCli(["--gt", p.gt, "--dt", p.dt, "--out", out, "--quiet"]);
    } finally {
      console.error = original;
    }
    assert.equal(code, 1);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^error: /);
    await assert.rejects(() => Deno.stat(out));
  } finally {
    await Deno.remove(p.dir, { recursive: true });
  }
}

Deno.test("lvisEval() names file, JSON path and value for malformed results", async () => {
  await expectError(goodGt, '[{"image_id": 1, "category_id": 1,', /"dt\.json" as JSON: unexpected end of file/);
  await expectError(goodGt, '[{"image_id": 1 "category_id": 1}]', /"dt\.json" as JSON: .*byte 16/);
  await expectError(goodGt, "[]", /"dt\.json".*empty/);
  await expectError(goodGt, [{ ...goodDt[0], image_id: 99 }], /"\[0\]\.image_id" in "dt\.json": image id 99 is not in/);
  await expectError(
    goodGt,
    '[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":NaN}]',
    /"\[0\]\.score" in "dt\.json": expected a finite number, got NaN/,
  );
  await expectError(
    goodGt,
    [goodDt[0], { ...goodDt[0], bbox: [0, 0, -3, 4] }],
    /"\[1\]\.bbox" in "dt\.json".*non-negative/,
  );
  await expectError(
    goodGt,
    [{ ...goodDt[0], bbox: [0, 0, 3] }],
    /"\[0\]\.bbox" in "dt\.json": expected 4 numbers, got 3/,
  );
  await expectError(goodGt, [{ image_id: 1, bbox: [0, 0, 3, 3], score: 1 }], /"\[0\]\.category_id" .*missing/);
});

Deno.test("lvisEval() names file, JSON path and value for malformed ground truth", async () => {
  const gt = structuredClone(goodGt) as Record<string, Record<string, unknown>[]>;
  delete gt.images[0].neg_category_ids;
  await expectError(gt, goodDt, /"images\[0\]\.neg_category_ids" in "gt\.json": expected an array, got undefined/);
  const gt2 = structuredClone(goodGt) as Record<string, Record<string, unknown>[]>;
  delete gt2.categories[1].frequency;
  await expectError(gt2, goodDt, /"categories\[1\]\.frequency" in "gt\.json"/);
  const gt3 = structuredClone(goodGt) as Record<string, Record<string, unknown>[]>;
  gt3.annotations[0].bbox = [1, 2, -30, 40];
  await expectError(gt3, goodDt, /"annotations\[0\]\.bbox" in "gt\.json".*non-negative/);
  await expectError('{"images": [', goodDt, /Cannot parse ".*gt\.json" as JSON/);
});
