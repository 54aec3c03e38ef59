/**
 * The command line of `deno task pipeline|train|demo|stage`, and the
 * composition root: the one module that wires the project's stages
 * (`tasks/registry.ts`) to the pipeline commands (`pipeline/cli.ts`,
 * `pipeline/stage_cli.ts`), which know no stage.
 *
 * @example
 * ```sh
 * deno task pipeline run pipelines/ci.yaml --set train.iterations=20 --explain
 * deno task pipeline diff runs/a runs/b
 * deno task stage run pipelines/ci.yaml "train[loss=bce]" --run-dir runs/ci
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import { InputError } from "./core/errors.ts";
import { buildProgram } from "./pipeline/cli.ts";
import { runStageCli } from "./pipeline/stage_cli.ts";
import { defaultRegistry } from "./tasks/registry.ts";

/** The pipeline run when none is named: synthetic data, EQL v2 against BCE, evaluation, report. */
export const DEFAULT_PIPELINE = fileURLToPath(new URL("./pipelines/default.yaml", import.meta.url));

if (import.meta.main && Deno.args[0] === "stage") {
  Deno.exit(await runStageCli(Deno.args.slice(1), defaultRegistry()));
} else if (import.meta.main) {
  try {
    await buildProgram({ registry: defaultRegistry(), defaultPipeline: DEFAULT_PIPELINE })
      .parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`error: ${message.split("\n")[0]}`);
    if (!(e instanceof InputError) && Deno.env.get("TAILOR_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
