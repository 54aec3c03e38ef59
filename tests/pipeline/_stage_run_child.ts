/** Child process for stage_run_test: `deno task stage` over the test stage kinds. */
import { runStageCli } from "../../pipeline/stage_cli.ts";
import { testRegistry } from "./_test_stages.ts";

Deno.exit(await runStageCli(Deno.args, testRegistry()));
