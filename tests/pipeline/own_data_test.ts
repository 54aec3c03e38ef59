/**
 * The README's "Train on your own dataset": pipelines/coco.yaml on the COCO
 * example in examples/coco_tiny, from the command line, train to report,
 * with masks: trained, predicted, evaluated as segm and reported first.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest } from "../_util.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

gpuTest("pipelines/coco.yaml trains, evaluates and reports on the COCO example, stating what it assumed", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tailor_own_data_" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write=/tmp,./runs,./.cache",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      "--allow-run",
      "main.ts",
      "train",
      "pipelines/coco.yaml",
      "--run-dir",
      runDir,
      "--set",
      "vars.iterations=12",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const [stdout, stderr] = [out.stdout, out.stderr].map((b) => new TextDecoder().decode(b));
  assert.equal(out.code, 0, stderr);
  assert.equal(stdout.trim().split("\n").at(-1), `report: ${runDir}/stages/report/index.html`);
  // Said while running: the groups from the training images, and the exhaustive labels.
  assert.match(stderr, /val_data: note: the frequency groups of "instances_val\.json" come from the training images/);
  assert.match(stderr, /train\[loss=bce\]: note: "instances_train\.json" has no neg_category_ids/);
  // Said in the report, too.
  const html = await Deno.readTextFile(join(runDir, "stages", "report", "index.html"));
  assert.match(
    html,
    /The training annotations have no category frequency: each category(&#39;|')s group comes from its/,
  );
  assert.match(html, /The evaluated ground truth has no neg_category_ids or not_exhaustive_category_ids/);
  const manifest = JSON.parse(await Deno.readTextFile(join(runDir, "manifest.json")));
  const gt = JSON.parse(await Deno.readTextFile(join(ROOT, "examples/coco_tiny/annotations/instances_val.json")));
  const sizes = new Map(
    gt.images.map((i: { id: number; height: number; width: number }) => [i.id, [i.height, i.width]]),
  );
  assert.match(html, /<h2>Mask AP and box AP \(%\)<\/h2>/, "the report puts mask AP beside box AP");
  for (const loss of ["bce", "eqlv2"]) {
    const outputs = manifest.stages[`eval[loss=${loss}]`].outputs;
    const metrics = JSON.parse(await Deno.readTextFile(outputs.metrics));
    assert.ok(metrics.results.AP >= 0, `${loss}: AP ${metrics.results.AP}`);
    assert.ok(metrics.per_category.every((c: { frequency: string }) => ["r", "c", "f"].includes(c.frequency)));
    // Masks all the way: trained (mask loss in the log), predicted at each image's size, evaluated as segm.
    const log = manifest.stages[`train[loss=${loss}]`].outputs.trainLog;
    const steps = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(steps.every((st) => st.loss.mask > 0), `${loss}: a step without a mask loss`);
    const rows = JSON.parse(await Deno.readTextFile(manifest.stages[`predict[loss=${loss}]`].outputs.results));
    assert.ok(rows.length > 0, `${loss}: no detections`);
    for (const r of rows) assert.deepEqual(r.segmentation?.size, sizes.get(r.image_id), `${loss}: a mask's size`);
    const segm = JSON.parse(await Deno.readTextFile(outputs.segmMetrics));
    assert.ok(segm.results.AP >= 0 && segm.results.AP <= 1, `${loss}: mask AP ${segm.results.AP}`);
    assert.equal(segm.per_category.length, metrics.per_category.length, `${loss}: segm covers every category`);
  }
  await Deno.remove(runDir, { recursive: true });
});
