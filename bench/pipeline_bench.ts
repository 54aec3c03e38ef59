/**
 * Pipeline overheads: planning a 120-instance matrix pipeline, a full run of
 * no-op stages, a re-run that skips everything, and rendering a report.
 */
import { parsePipeline } from "../pipeline/pipeline_file.ts";
import { planPipeline } from "../pipeline/plan.ts";
import { plainReporter } from "../pipeline/progress.ts";
import { runPlan } from "../pipeline/runner.ts";
import { reportParams, writeReport } from "../tasks/report.ts";
import { makeFakeRuns } from "../tests/report/_fake_runs.ts";
import { testRegistry } from "../tests/pipeline/_test_stages.ts";

const registry = testRegistry();
const text = `stages:
  words:
    uses: write
    matrix: {a: [1, 2, 3, 4, 5], b: [x, y, z, w], c: [p, q, r, s, t, u]}
    with: {word: "\${matrix.a}\${matrix.b}\${matrix.c}", count: 2}
  all:
    uses: join
    with:
      files: [{$each: words, $item: "\${words.file}"}]
`;
const quiet = plainReporter(() => {});

Deno.bench("plan a 121-stage matrix pipeline", () => {
  planPipeline(parsePipeline("b.yaml", text), registry);
});

const skipDir = await Deno.makeTempDir();
await runPlan(planPipeline(parsePipeline("b.yaml", text), registry), { runDir: skipDir, registry, reporter: quiet });

Deno.bench("run 121 no-op stages (jobs 4)", { n: 5 }, async () => {
  const runDir = await Deno.makeTempDir();
  await runPlan(planPipeline(parsePipeline("b.yaml", text), registry), { runDir, registry, jobs: 4, reporter: quiet });
  await Deno.remove(runDir, { recursive: true });
});

Deno.bench("re-run 121 unchanged stages (all skipped)", { n: 10 }, async () => {
  await runPlan(planPipeline(parsePipeline("b.yaml", text), registry), { runDir: skipDir, registry, reporter: quiet });
});

const fake = await makeFakeRuns(["bce", "eqlv2"], 100);
globalThis.addEventListener("unload", () => {
  Deno.removeSync(skipDir, { recursive: true });
  Deno.removeSync(fake.dir, { recursive: true });
});
Deno.bench("report: 2 runs, 100 categories, 4 charts + 4 detection images", { n: 5 }, async () => {
  const params = reportParams.parse({
    runs: fake.runs,
    trainAnnotations: fake.trainAnnotations,
    images: { ...fake.images, count: 2 },
  });
  await writeReport(params, `${fake.dir}/out`);
});
