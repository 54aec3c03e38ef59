import assert from "node:assert/strict";
import { lvisEvalFiles, type LvisEvalOptions } from "../../eval/mod.ts";
import { FIXTURES } from "./_util.ts";

interface Expected {
  results: Record<string, number>;
  print_results?: string[];
  stdout?: string[];
  counts: Record<string, unknown>;
  per_category?: Record<string, number | number[] | string>[];
  precision_TRKA?: number[][][][];
  recall_TKA?: number[][][];
}

const TOL = 1e-12;

function close(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= TOL, `${what}: got ${got}, want ${want}`);
}

async function check(dir: string, dt: string, expected: string, options: LvisEvalOptions): Promise<void> {
  const exp: Expected = JSON.parse(await Deno.readTextFile(`${FIXTURES}${dir}/${expected}`));
  const report = await lvisEvalFiles(`${FIXTURES}${dir}/gt.json`, `${FIXTURES}${dir}/${dt}`, { ...options, raw: true });
  const want = options.pooled
    ? Object.fromEntries(Object.entries(report.results).filter(([k]) => k.startsWith("AP-pooled")))
    : report.results;
  assert.deepEqual(Object.keys(options.pooled ? want : report.results), Object.keys(exp.results));
  for (const [k, v] of Object.entries(exp.results)) close(report.results[k], v, k);
  if (!options.pooled) {
    assert.deepEqual(report.print_results, exp.print_results ?? exp.stdout);
  }
  if (exp.counts.dt_used_by_eval !== undefined) assert.equal(report.counts.dtUsed, exp.counts.dt_used_by_eval);
  if (exp.counts.gt_used_by_eval !== undefined) assert.equal(report.counts.gtUsed, exp.counts.gt_used_by_eval);
  if (exp.counts.categories_with_AP) assert.deepEqual(report.counts.categories_with_AP, exp.counts.categories_with_AP);
  if (exp.per_category) {
    assert.equal(report.per_category.length, exp.per_category.length);
    exp.per_category.forEach((want, i) => {
      const got = report.per_category[i] as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) {
        if (typeof v === "number") close(got[k] as number, v, `per_category[${i}].${k}`);
        else assert.deepEqual(got[k], v, `per_category[${i}].${k}`);
      }
    });
  }
  if (exp.precision_TRKA) {
    const p = report.precision_TRKA!.flat(3), q = exp.precision_TRKA.flat(3);
    assert.equal(p.length, q.length);
    q.forEach((v, i) => close(p[i], v, `precision_TRKA flat[${i}]`));
    const r = report.recall_TKA!.flat(2), s = exp.recall_TKA!.flat(2);
    assert.equal(r.length, s.length);
    s.forEach((v, i) => close(r[i], v, `recall_TKA flat[${i}]`));
  }
}

// c01_tiny has results on category ids the ground truth lacks, which lvis-api drops.
Deno.test("lvisEval() matches the official API on c01_tiny (IoU edges, zero areas, -1 APr)", () =>
  check("c01_tiny", "dt.json", "expected_bbox.json", { unknownCategories: "drop" }));

Deno.test("lvisEval() matches the official API on c02_small (a score tie straddling the 300 cut)", () =>
  check("c02_small", "dt.json", "expected_bbox.json", {}));

Deno.test("lvisEval() AP-fixed matches large-vocab-devil on c02_small, AR keys named AR@-1", () =>
  check("c02_small", "dt.json", "expected_ap_fixed.json", { maxDets: -1, detsPerCat: 10000 }));

Deno.test("lvisEval() AP-pooled matches large-vocab-devil on c02_small", () =>
  check("c02_small", "dt.json", "expected_ap_pooled.json", { maxDets: -1, detsPerCat: 10000, pooled: true }));

Deno.test("lvisEval() segm matches the official API on s01_segm (polygon ground truth, RLE results)", () =>
  check("s01_segm", "dt.json", "expected_segm.json", { iouType: "segm" }));

Deno.test("lvisEval() segm with boxes in the results uses the box area, as the official API does", () =>
  check("s01_segm", "dt_with_bbox.json", "expected_segm_dt_with_bbox.json", { iouType: "segm" }));

Deno.test("lvisEval() bbox on results carrying masks and boxes matches the official API", () =>
  check("s01_segm", "dt_with_bbox.json", "expected_bbox_dt_with_bbox.json", { iouType: "bbox" }));
