import assert from "node:assert/strict";
import { runEvalCli } from "../../eval/cli.ts";
import { directContext } from "../../pipeline/stage.ts";
import { evalParams, evalStage } from "../../tasks/eval.ts";
import { FIXTURES } from "./_util.ts";

// s01_segm's results carry boxes and masks; dt.json is the same results without the boxes. The expected
// files are lvis-api's outputs, so each layout below must give them exactly.
const CASE = `${FIXTURES}s01_segm/`;
type Result = { image_id: number; category_id: number; bbox: number[]; score: number; segmentation: unknown };
const results: Result[] = JSON.parse(Deno.readTextFileSync(`${CASE}dt_with_bbox.json`));
const expected = (name: string) =>
  JSON.parse(Deno.readTextFileSync(`${CASE}${name}`)).results as Record<string, number>;

/** Python's json.dumps spelling of a float: `12.0`, `1e-05`, shortest round-trip digits otherwise. */
function py(x: number): string {
  if (Number.isInteger(x)) return `${x}.0`;
  return String(x).replace(/e([+-])(\d)$/, "e$10$2");
}

/** A results file in mmdetection's layout: image_id, bbox, score, category_id[, segmentation], `, ` and `: `. */
function mmdetLayout(withMasks: boolean): string {
  return "[" +
    results.map((r) =>
      `{"image_id": ${r.image_id}, "bbox": [${r.bbox.map(py).join(", ")}], "score": ${py(r.score)}, ` +
      `"category_id": ${r.category_id}` + (withMasks ? `, "segmentation": ${JSON.stringify(r.segmentation)}}` : "}")
    ).join(", ") + "]";
}

/** detectron2's `*_instances_results.json`: image_id, category_id, bbox, score, segmentation, compact. */
function detectron2Layout(): string {
  return JSON.stringify(results.map((r) => ({
    image_id: r.image_id,
    category_id: r.category_id,
    bbox: r.bbox,
    score: r.score,
    segmentation: r.segmentation,
  })));
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (m: string) => out.push(m);
  console.error = (m: string) => err.push(m);
  try {
    return { code: await runEvalCli(args), out, err };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

function sameMetrics(got: Record<string, number>, want: Record<string, number>, what: string): void {
  assert.deepEqual(Object.keys(got), Object.keys(want), what);
  for (const [k, v] of Object.entries(want)) {
    assert.ok(Math.abs(got[k] - v) <= 1e-12, `${what} ${k}: ${got[k]} vs ${v}`);
  }
}

Deno.test("eval CLI takes mmdetection's .bbox.json and .segm.json in one call and writes lvis-api's keys", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_mmdet_" });
  try {
    await Deno.writeTextFile(`${dir}/results.bbox.json`, mmdetLayout(false));
    await Deno.writeTextFile(`${dir}/results.segm.json`, mmdetLayout(true));
    // Either order: the file whose results carry masks is segm's.
    for (const files of [["bbox", "segm"], ["segm", "bbox"]]) {
      const dt = files.map((t) => `${dir}/results.${t}.json`);
      const run = await cli([
        "--gt",
        `${CASE}gt.json`,
        "--dt",
        ...dt,
        "--format",
        "lvis-api",
        "--out",
        `${dir}/m.json`,
      ]);
      assert.equal(run.code, 0, run.err.join("\n"));
      const written = JSON.parse(await Deno.readTextFile(`${dir}/m.json`));
      assert.deepEqual(Object.keys(written), ["bbox", "segm"]);
      sameMetrics(written.bbox, expected("expected_bbox_dt_with_bbox.json"), "bbox");
      // lvis-api takes the box areas of results that carry boxes, and so do mmdetection's numbers.
      sameMetrics(written.segm, expected("expected_segm_dt_with_bbox.json"), "segm");
      assert.deepEqual(run.out.filter((l) => l.startsWith("IoU type")), ["IoU type: bbox", "IoU type: segm"]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval CLI evaluates detectron2's single results file for bbox and segm, mask areas with --mask-area", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_d2_" });
  try {
    const dt = `${dir}/coco_instances_results.json`;
    await Deno.writeTextFile(dt, detectron2Layout());
    const run = await cli([
      "--gt",
      `${CASE}gt.json`,
      "--dt",
      dt,
      "--iou-type",
      "bbox,segm",
      "--mask-area",
      "--out",
      `${dir}/m.json`,
    ]);
    assert.equal(run.code, 0, run.err.join("\n"));
    const written = JSON.parse(await Deno.readTextFile(`${dir}/m.json`));
    sameMetrics(written.bbox.results, expected("expected_bbox_dt_with_bbox.json"), "bbox");
    // detectron2 drops the boxes before its segm evaluation: lvis-api's numbers for the masks alone.
    sameMetrics(written.segm.results, expected("expected_segm.json"), "segm");
    // Without --mask-area the box areas count, as in lvis-api on this file; the size ranges then differ.
    const boxAreas = await cli(["--gt", `${CASE}gt.json`, "--dt", dt, "--iou-type", "segm", "--out", `${dir}/b.json`]);
    assert.equal(boxAreas.code, 0);
    const b = JSON.parse(await Deno.readTextFile(`${dir}/b.json`));
    sameMetrics(b.results, expected("expected_segm_dt_with_bbox.json"), "segm, box areas");
    assert.notEqual(b.results.APs, written.segm.results.APs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval CLI refuses two results files for the same IoU type, and segm results without masks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_two_" });
  try {
    await Deno.writeTextFile(`${dir}/a.bbox.json`, mmdetLayout(false));
    await Deno.writeTextFile(`${dir}/b.bbox.json`, mmdetLayout(false));
    await Deno.writeTextFile(`${dir}/c.segm.json`, mmdetLayout(true));
    const twoBox = await cli(["--gt", `${CASE}gt.json`, "--dt", `${dir}/a.bbox.json`, `${dir}/b.bbox.json`]);
    assert.equal(twoBox.code, 1);
    assert.match(twoBox.err[0], /^error: Two results files for bbox: "a\.bbox\.json" and "b\.bbox\.json"/);
    const twoSegm = await cli(["--gt", `${CASE}gt.json`, "--dt", `${dir}/c.segm.json`, `${dir}/c.segm.json`]);
    assert.match(twoSegm.err[0], /^error: Two results files for segm/);
    // Results with a mask on all but one: the first result without one is named.
    const some = results.map((r, i) => (i === 3 || i === 7 ? { ...r, segmentation: undefined } : r));
    await Deno.writeTextFile(`${dir}/some.json`, JSON.stringify(some));
    const noMask = await cli([
      "--gt",
      `${CASE}gt.json`,
      "--dt",
      `${dir}/some.json`,
      "--iou-type",
      "segm",
      "--out",
      `${dir}/m.json`,
    ]);
    assert.equal(noMask.code, 1);
    assert.equal(noMask.err.length, 1);
    assert.match(
      noMask.err[0],
      /^error: Cannot read "\[3\]\.segmentation" in "some\.json": missing: segm evaluation needs a mask/,
    );
    await assert.rejects(() => Deno.stat(`${dir}/m.json`));
    // The same file is fine for bbox.
    assert.equal((await cli(["--gt", `${CASE}gt.json`, "--dt", `${dir}/some.json`, "--quiet"])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval stage writes metrics.json (bbox) and metrics_segm.json when the results carry masks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_stage2_" });
  try {
    const params = evalParams.parse({ gt: `${CASE}gt.json`, dt: `${CASE}dt_with_bbox.json` });
    const out = evalStage.output.parse(await evalStage.run(params, directContext(dir)));
    assert.equal(out.segmMetrics, `${dir}/metrics_segm.json`);
    const bbox = JSON.parse(await Deno.readTextFile(out.metrics)),
      segm = JSON.parse(await Deno.readTextFile(out.segmMetrics!));
    assert.equal(bbox.iou_type, "bbox");
    assert.equal(segm.iou_type, "segm");
    sameMetrics(bbox.results, expected("expected_bbox_dt_with_bbox.json"), "bbox");
    sameMetrics(segm.results, expected("expected_segm_dt_with_bbox.json"), "segm");
    assert.ok(Math.abs(out.AP - bbox.results.AP) === 0);
    // Box-only results: one file, no segmMetrics.
    const boxOnly = `${dir}/boxes.json`;
    await Deno.writeTextFile(boxOnly, JSON.stringify(results.map(({ segmentation: _, ...r }) => r)));
    const one = await evalStage.run(
      evalParams.parse({ gt: `${CASE}gt.json`, dt: boxOnly }),
      directContext(`${dir}/one`),
    );
    assert.equal(one.segmMetrics, undefined);
    await assert.rejects(() => Deno.stat(`${dir}/one/metrics_segm.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
