/** Child process for runner_test: runs a pipeline given as an argument in a run directory until killed. */
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { plainReporter } from "../../pipeline/progress.ts";
import { runPlan } from "../../pipeline/runner.ts";
import { testRegistry } from "./_test_stages.ts";

const [runDir, text] = Deno.args;
const registry = testRegistry();
await runPlan(planPipeline(parsePipeline("t.yaml", text), registry), {
  runDir,
  registry,
  jobs: 1,
  reporter: plainReporter(() => {}),
});
