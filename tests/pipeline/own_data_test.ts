/**
 * The README's "Train on your own dataset": pipelines/coco.yaml on the COCO
 * example in examples/coco_tiny, from the command line, train to report.
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
  for (const loss of ["bce", "eqlv2"]) {
    const metrics = JSON.parse(await Deno.readTextFile(manifest.stages[`eval[loss=${loss}]`].outputs.metrics));
    assert.ok(metrics.results.AP >= 0, `${loss}: AP ${metrics.results.AP}`);
    assert.ok(metrics.per_category.every((c: { frequency: string }) => ["r", "c", "f"].includes(c.frequency)));
  }
  await Deno.remove(runDir, { recursive: true });
});
