import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { apRareVsApSpec } from "../../report/figure_specs.ts";
import { reportParams, writeReport } from "../../tasks/report.ts";
import { makeFakeRuns } from "./_fake_runs.ts";

Deno.test("apRareVsApSpec() plots each run's AP and APr in percent by method, leaving out runs without APr", () => {
  const m = (AP: number, APr: number) => ({ results: { AP, APr } });
  const spec = apRareVsApSpec([
    { name: "bce seed 1", method: "bce", metrics: m(0.1, 0.01) },
    { name: "bce seed 2", method: "bce", metrics: m(0.12, 0.03) },
    { name: "crt seed 1", method: "crt", metrics: m(0.09, -1) },
    { name: "bags seed 1", method: "bags", metrics: m(0.11, 0.05) },
  ]);
  assert.deepEqual((spec.data as { values: unknown[] }).values, [
    { run: "bce seed 1", method: "bce", AP: 10, APr: 1 },
    { run: "bce seed 2", method: "bce", AP: 12, APr: 3 },
    { run: "bags seed 1", method: "bags", AP: 11, APr: 5 },
  ]);
  // Runs, then the mean of each method with its name.
  const layers = (spec as { layer: { encoding: { x: { aggregate?: string }; text?: unknown } }[] }).layer;
  assert.deepEqual(layers.map((l) => l.encoding.x.aggregate ?? null), [null, "mean", "mean"]);
  assert.deepEqual(layers[2].encoding.text, { field: "method" });
});

Deno.test("writeReport() draws APr against AP when runs name their method, and not otherwise", async () => {
  const fake = await makeFakeRuns(["bce", "crt"]);
  const runs = fake.runs.map((r) => ({ name: r.name, metrics: r.metrics }));
  const plain = await writeReport(reportParams.parse({ runs }), join(fake.dir, "plain"));
  assert.ok(!plain.figures.some((f) => f.endsWith("apr_vs_ap.png")));
  const out = join(fake.dir, "by_method");
  const withMethod = runs.map((r) => ({ ...r, method: r.name }));
  const result = await writeReport(reportParams.parse({ runs: withMethod }), out);
  assert.ok(result.figures.includes(join(out, "apr_vs_ap.png")));
  const meta = await sharp(join(out, "apr_vs_ap.png")).metadata();
  assert.ok(meta.format === "png" && meta.width! > 100 && meta.height! > 100);
  assert.ok((await Deno.readTextFile(result.html)).includes(`src="apr_vs_ap.png"`));
  await Deno.remove(fake.dir, { recursive: true });
});
