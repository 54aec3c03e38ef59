import assert from "node:assert/strict";
import { lvisEvalFiles } from "../../eval/mod.ts";
import { tinyGt, writeCase } from "./_util.ts";

// A perfect detection has precision 1 / (1 + eps) in the reference, hence the tolerance.
function near(got: number | number[], want: number | number[]): void {
  const g = [got].flat(), w = [want].flat();
  assert.equal(g.length, w.length);
  g.forEach((v, i) => assert.ok(Math.abs(v - w[i]) < 1e-12, `got ${g}, want ${w}`));
}

const HIT = [10, 10, 50, 50], MISS = [300, 300, 40, 40];
const cats = [{ id: 1, frequency: "f" }, { id: 2, frequency: "c" }, { id: 3, frequency: "r" }];

function det(category_id: number, score: number, bbox: number[], image_id = 1) {
  return { image_id, category_id, bbox, score };
}

async function apOf(gt: unknown, dt: unknown[], maxDets: number, category = 1) {
  const p = await writeCase(gt, dt);
  const report = await lvisEvalFiles(p.gt, p.dt, { maxDets, unknownCategories: "drop" });
  await Deno.remove(p.dir, { recursive: true });
  const c = report.per_category.find((c) => c.id === category)!;
  return { ap: c.AP, ar: c.AR, report };
}

Deno.test("lvisEval() caps per image before the federated filter, ties kept in file order", async () => {
  const gt = tinyGt({
    images: [{ id: 1, neg: [2] }],
    categories: cats,
    annotations: [{ id: 5, image_id: 1, category_id: 1, bbox: HIT }],
  });
  // An unknown category (99, dropped as lvis-api drops it) and a category neither positive nor negative (3)
  // still use up the cap.
  const head = [det(99, 0.95, MISS), det(3, 0.9, MISS)];
  const hitFirst = [...head, det(1, 0.5, HIT), det(1, 0.5, MISS)];
  const missFirst = [...head, det(1, 0.5, MISS), det(1, 0.5, HIT)];
  near((await apOf(gt, hitFirst, 3)).ap, 1);
  near((await apOf(gt, missFirst, 3)).ap, 0);
  const capped = await apOf(gt, hitFirst, 2);
  near([capped.ap, capped.ar], [0, 0]);
  assert.ok("AR@2" in capped.report.results);
  assert.equal(capped.report.counts.dtAfterLimits, 2);
});

Deno.test("lvisEval() treats a ground truth with id 0 as never matched, as the reference does", async () => {
  const make = (id: number) =>
    tinyGt({ images: [{ id: 1 }], categories: cats, annotations: [{ id, image_id: 1, category_id: 1, bbox: HIT }] });
  const dt = [det(1, 0.8, HIT)];
  const seven = await apOf(make(7), dt, 300), zero = await apOf(make(0), dt, 300);
  near([seven.ap, seven.ar], [1, 1]);
  near([zero.ap, zero.ar], [0, 0]);
});

Deno.test("lvisEval() counts area 32^2 as small and medium, 96^2 as medium and large", async () => {
  const gt = tinyGt({
    images: [{ id: 1 }],
    categories: cats,
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 32, 32], area: 1024 },
      { id: 2, image_id: 1, category_id: 2, bbox: [0, 0, 96, 96], area: 9216 },
    ],
  });
  const { report } = await apOf(gt, [det(1, 0.5, [0, 0, 32, 32]), det(2, 0.5, [0, 0, 96, 96])], 300);
  assert.deepEqual(report.per_category[0].num_gt, [1, 1, 1, 0]);
  assert.deepEqual(report.per_category[1].num_gt, [1, 0, 1, 1]);
  for (const c of report.per_category.slice(0, 2)) near(c.APm, 1);
  assert.equal(report.per_category[2].AP, -1);
});

Deno.test("lvisEval() scores negatives on images without annotations and drops unverified ones", async () => {
  const gt = tinyGt({
    images: [{ id: 1 }, { id: 2, neg: [1] }, { id: 3 }, { id: 4, neg: [1], nel: [1] }],
    categories: cats,
    annotations: [{ id: 9, image_id: 1, category_id: 1, bbox: HIT }],
  });
  const hit = det(1, 0.9, HIT);
  // Image 2 lists category 1 as absent: a false positive that outranks the hit, so precision is 1/2.
  const fp = await apOf(gt, [hit, det(1, 0.95, MISS, 2)], 300);
  near(fp.ap, 0.5);
  assert.equal(fp.report.counts.dtUsed, 2);
  // Image 3 says nothing about category 1: the result is filtered out.
  const dropped = await apOf(gt, [hit, det(1, 0.95, MISS, 3)], 300);
  near([dropped.ap, dropped.report.counts.dtUsed], [1, 1]);
  // Not-exhaustive on image 4: the unmatched result is ignored.
  const nel = await apOf(gt, [hit, det(1, 0.95, MISS, 4)], 300);
  near([nel.ap, nel.report.counts.dtUsed], [1, 2]);
});

Deno.test("lvisEval() matches an IoU exactly at the threshold", async () => {
  // IoU of [0,0,10,10] with [0,0,10,20] is exactly 0.5: a match at 0.5 only.
  const gt = tinyGt({
    images: [{ id: 1 }],
    categories: cats,
    annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 20] }],
  });
  const { report } = await apOf(gt, [det(1, 0.7, [0, 0, 10, 10])], 300);
  near(report.results.AP50, 1);
  near(report.results.AP75, 0);
  near(report.per_category[0].AR, 0.1);
});
