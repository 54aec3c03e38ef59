import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { diffMetrics, loadRunMetrics } from "../../pipeline/metrics_diff.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { plainReporter } from "../../pipeline/progress.ts";
import { defaultRegistry } from "../../tasks/registry.ts";
import { runPlan } from "../../pipeline/runner.ts";

// The official LVIS API's outputs, beside the checkout (see shared/fixtures/README.md).
const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/lvis", import.meta.url));
const registry = defaultRegistry();

Deno.test({
  name: "a matrix of eval stages feeds the report the official API's numbers for each case",
  async fn() {
    const runDir = await Deno.makeTempDir();
    const cases = ["c01_tiny", "c02_small"];
    const text = `vars: {fixtures: ${FIXTURES}}
stages:
  eval:
    uses: eval
    matrix: {case: [${cases.join(", ")}]}
    with:
      gt: \${vars.fixtures}/\${matrix.case}/gt.json
      dt: \${vars.fixtures}/\${matrix.case}/dt.json
      unknownCategories: drop   # c01_tiny has results on ids its ground truth lacks, which lvis-api drops
  report:
    uses: report
    with:
      trainAnnotations: \${vars.fixtures}/c02_small/gt.json
      runs: [{$each: eval, $item: {name: "\${matrix.case}", metrics: "\${eval.metrics}"}}]
`;
    const plan = planPipeline(parsePipeline("fixtures.yaml", text), registry);
    const result = await runPlan(plan, { runDir, registry, reporter: plainReporter(() => {}) });
    assert.ok(result.ok, JSON.stringify([...result.stages]));
    const html = await Deno.readTextFile(result.stages.get("report")!.outputs!.html as string);
    const metrics = await loadRunMetrics(runDir);
    for (const name of cases) {
      const expected = JSON.parse(await Deno.readTextFile(join(FIXTURES, name, "expected_bbox.json"))).results;
      assert.deepEqual(metrics.get(`eval[case=${name}]`), expected);
      const cells = ["AP", "AP50", "AP75", "APr"].map((k) =>
        `<td>${expected[k] < 0 ? "n/a" : (100 * expected[k]).toFixed(1)}</td>`
      );
      assert.ok(html.includes(`<tr><th>${name}</th>${cells.join("")}`), name);
    }
    assert.ok(diffMetrics(metrics, await loadRunMetrics(runDir)).every((r) => r.a === r.b));
    await Deno.remove(runDir, { recursive: true });
  },
});
