import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import sharp from "sharp";
import { InputError } from "../../core/errors.ts";
import { drawDetections } from "../../report/draw_detections.ts";
import { apByFrequencySpec, gradientRatioSpec } from "../../report/figure_specs.ts";
import { readCategoryStats, readTrainLog } from "../../report/report_inputs.ts";
import { directContext } from "../../pipeline/stage.ts";
import { ingestParams, ingestStage } from "../../tasks/ingest.ts";
import { reportParams, writeReport } from "../../tasks/report.ts";
import { makeFakeRuns } from "./_fake_runs.ts";

Deno.test("writeReport() writes a page whose table and figures match its inputs", async () => {
  const fake = await makeFakeRuns();
  const out = join(fake.dir, "out");
  const params = reportParams.parse({
    title: "t <&>",
    runs: fake.runs,
    trainAnnotations: fake.trainAnnotations,
    images: { ...fake.images, count: 2 },
  });
  const result = await writeReport(params, out);
  const html = await Deno.readTextFile(result.html);
  assert.match(html, /<title>t &lt;&amp;&gt;<\/title>/);
  for (const name of ["ap_by_frequency", "ap_vs_images", "gradient_ratio", "loss_curves"]) {
    assert.ok(result.figures.includes(join(out, `${name}.png`)), name);
  }
  assert.equal(result.figures.length, 4 + 2 * fake.runs.length);
  for (const figure of result.figures) {
    const meta = await sharp(figure).metadata();
    assert.equal(meta.format, "png");
    assert.ok(meta.width! > 50 && meta.height! > 50, figure);
    assert.ok(html.includes(`src="${figure.slice(out.length + 1)}"`), figure);
  }
  for (const run of fake.runs) {
    const cells = ["AP", "AP50", "AP75", "APr", "APc", "APf"].map((k) =>
      `<td>${(100 * fake.results[run.name][k]).toFixed(1)}</td>`
    );
    assert.ok(html.includes(`<tr><th>${run.name}</th>${cells.join("")}`), run.name);
  }
  // The terminal's table: one line per run with its box AP, APr, APc, APf in percent.
  const summary = (await Deno.readTextFile(result.summary!)).trimEnd().split("\n");
  assert.equal(summary.length, 1 + fake.runs.length);
  fake.runs.forEach((run, i) => {
    const want = ["AP", "APr", "APc", "APf"].map((k) => (100 * fake.results[run.name][k]).toFixed(1));
    assert.deepEqual(summary[i + 1].trim().split(/\s+/), [run.name, ...want]);
  });
  await Deno.remove(fake.dir, { recursive: true });
});

Deno.test("apByFrequencySpec() plots each run's AP per group in percent and leaves out groups without categories", () => {
  const a = { AP: Math.random(), APr: -1, APc: Math.random(), APf: Math.random() };
  const b = { AP: Math.random(), APr: Math.random(), APc: Math.random(), APf: Math.random() };
  const spec = apByFrequencySpec([{ name: "a", metrics: { results: a } }, { name: "b", metrics: { results: b } }]);
  const values = (spec.data as { values: { run: string; group: string; AP: number }[] }).values;
  assert.deepEqual(values, [
    { run: "a", group: "all", AP: 100 * a.AP },
    { run: "a", group: "common", AP: 100 * a.APc },
    { run: "a", group: "frequent", AP: 100 * a.APf },
    { run: "b", group: "all", AP: 100 * b.AP },
    { run: "b", group: "rare", AP: 100 * b.APr },
    { run: "b", group: "common", AP: 100 * b.APc },
    { run: "b", group: "frequent", AP: 100 * b.APf },
  ]);
  assert.equal((spec as { encoding: { y: { title: string } } }).encoding.y.title, "AP (%)");
});

Deno.test("gradientRatioSpec() gives pos/neg per category, ranked by training images, most first", () => {
  const categories = [5, 1, 9, 3].map((id) => ({
    id,
    name: `c${id}`,
    frequency: "c",
    imageCount: Math.ceil(Math.random() * 1000),
  }));
  const pos = categories.map(() => 1 + Math.random());
  const neg = categories.map(() => 1 + Math.random());
  const spec = gradientRatioSpec([{ name: "x", grad: { loss: "eqlv2", pos_grad: pos, neg_grad: neg } }], categories);
  const values = (spec.data as { values: { rank: number; ratio: number; run: string }[] }).values;
  // Gradient arrays are indexed by category in id order: ids 1, 3, 5, 9.
  const idOrder = [1, 3, 5, 9];
  const byCount = [...categories].sort((a, b) => b.imageCount - a.imageCount || a.id - b.id).map((c) => c.id);
  const expected = idOrder.map((id, i) => ({ run: "x (eqlv2)", rank: byCount.indexOf(id), ratio: pos[i] / neg[i] }));
  assert.deepEqual(values, expected);
});

Deno.test("readTrainLog() names the line and file of a malformed entry", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  await Deno.writeTextFile(path, `{"step": 1, "loss": {"total": 1}}\n\n{"step": 2, "loss": {"total": "x"}}\n`);
  await assert.rejects(readTrainLog(path), (e: Error) => {
    assert.ok(e instanceof InputError);
    assert.equal(
      e.message,
      `Cannot read "loss.total" on line 3 of "${path}": Invalid input: expected number, received string`,
    );
    return true;
  });
  await Deno.writeTextFile(path, `{"step": 1, "loss": {"total": 1}}\nnot json\n`);
  await assert.rejects(readTrainLog(path), new RegExp(`Cannot read line 2 of "${path}": not JSON`));
  await Deno.remove(path);
});

Deno.test("drawDetections() strokes the box edges and leaves the inside untouched", async () => {
  const dir = await Deno.makeTempDir();
  const [w, h] = [330 + Math.floor(Math.random() * 40), 60 + Math.floor(Math.random() * 40)];
  const src = join(dir, "in.png");
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toFile(src);
  // Wide enough not to be enlarged, so pixel coordinates are the box's.
  const [x, y, bw, bh] = [10, 20, 30, 25];
  await drawDetections(src, [{ bbox: [x, y, bw, bh], label: "", kind: "result" }], join(dir, "out.png"));
  const { data, info } = await sharp(join(dir, "out.png")).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const px = (px: number, py: number) =>
    Array.from(data.subarray((py * info.width + px) * 3, (py * info.width + px) * 3 + 3));
  const edge = px(x + 15, y);
  assert.ok(edge[0] > 200 && edge[2] < 120, `edge pixel ${edge}`);
  assert.deepEqual(px(x + 15, y + 12), [0, 0, 255]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readCategoryStats() reads the ingest cache and the LVIS file alike", async () => {
  const dir = await Deno.makeTempDir();
  const gt = fileURLToPath(new URL("../../../shared/fixtures/lvis/c02_small/gt.json", import.meta.url));
  const out = await ingestStage.run(ingestParams.parse({ annotations: gt, cacheDir: dir }), directContext(dir));
  const fromCache = await readCategoryStats(out.cachePath);
  const fromJson = await readCategoryStats(gt);
  assert.equal(fromJson.length, 24);
  assert.ok(fromJson.every((c) => c.imageCount > 0 && "rcf".includes(c.frequency)));
  assert.deepEqual(fromCache, fromJson);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("drawDetections() enlarges a small image by a whole factor and its boxes with it", async () => {
  const dir = await Deno.makeTempDir();
  const [w, h] = [60 + Math.floor(Math.random() * 40), 50];
  const zoom = Math.round(320 / w);
  const src = join(dir, "in.png");
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toFile(src);
  const drawn = await drawDetections(
    src,
    [{ bbox: [10, 20, 30, 25], label: "", kind: "result" }],
    join(dir, "out.png"),
  );
  const { data, info } = await sharp(join(dir, "out.png")).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // The legend is a strip below the enlarged image.
  assert.deepEqual([info.width, drawn.imageHeight, drawn.zoom], [w * zoom, h * zoom, zoom]);
  assert.ok(info.height > h * zoom && info.height === drawn.height);
  const at = (x: number, y: number) =>
    Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3));
  assert.ok(at(25 * zoom, 20 * zoom)[0] > 200, "top edge at the scaled position");
  assert.deepEqual(at(25 * zoom, 32 * zoom), [0, 0, 255]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("apByFrequencySpec() puts mask AP and box AP in two panels when a run has mask metrics", () => {
  const box = { AP: Math.random(), APr: Math.random(), APc: Math.random(), APf: Math.random() };
  const mask = { AP: Math.random(), APr: -1, APc: Math.random(), APf: Math.random() };
  const spec = apByFrequencySpec([
    { name: "m", metrics: { results: box }, segm: { results: mask } },
    { name: "b", metrics: { results: box } },
  ]);
  const values = (spec.data as { values: { run: string; group: string; AP: number; kind: string }[] }).values;
  assert.deepEqual(values.filter((v) => v.kind === "mask AP"), [
    { run: "m", group: "all", AP: 100 * mask.AP, kind: "mask AP" },
    { run: "m", group: "common", AP: 100 * mask.APc, kind: "mask AP" },
    { run: "m", group: "frequent", AP: 100 * mask.APf, kind: "mask AP" },
  ]);
  assert.equal(values.filter((v) => v.kind === "box AP").length, 8);
  assert.equal((spec as { encoding: { column: { field: string } } }).encoding.column.field, "kind");
});

Deno.test("writeReport() shows mask AP and box AP side by side in percent, and draws the masks", async () => {
  const fake = await makeFakeRuns(["bce", "eqlv2"], 8, { masks: true });
  const out = join(fake.dir, "out");
  const params = reportParams.parse({
    runs: fake.runs,
    trainAnnotations: fake.trainAnnotations,
    images: { ...fake.images, count: 2 },
  });
  const result = await writeReport(params, out);
  const html = await Deno.readTextFile(result.html);
  assert.match(html, /<h2>Mask AP and box AP \(%\)<\/h2>/);
  for (const run of fake.runs) {
    const pct = (v: number) => `<td>${(100 * v).toFixed(1)}</td>`;
    const keys = ["AP", "APr", "APc", "APf"];
    const mask = keys.map((k) => pct(fake.segmResults[run.name][k])).join("");
    const box = keys.map((k) => pct(fake.results[run.name][k])).join("");
    assert.ok(html.includes(`<tr><th>${run.name}</th>${mask}${box}</tr>`), run.name);
  }
  assert.match(html, /<h2>Box results \(AP in %\)<\/h2>/);
  assert.match(html, /<h2>Mask results \(AP in %\)<\/h2>/);
  assert.ok(result.figures.includes(join(out, "mask_ap_vs_images.png")));
  assert.equal(result.figures.length, 5 + 2 * fake.runs.length);
  assert.match(html, /results with masks &gt;= 0\.3/);
  await Deno.remove(fake.dir, { recursive: true });
});

Deno.test("writeReport() of box-only runs has no mask table or mask figure", async () => {
  const fake = await makeFakeRuns(["bce"], 5);
  const out = join(fake.dir, "out");
  const result = await writeReport(
    reportParams.parse({ runs: fake.runs, trainAnnotations: fake.trainAnnotations }),
    out,
  );
  const html = await Deno.readTextFile(result.html);
  assert.match(html, /<h2>Results \(AP in %\)<\/h2>/);
  assert.ok(!/mask/i.test(html), "no mask table, caption or heading");
  assert.ok(!result.figures.some((f) => f.includes("mask")));
  await Deno.remove(fake.dir, { recursive: true });
});
