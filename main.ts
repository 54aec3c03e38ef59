/**
 * The command line of `deno task pipeline|train|demo|stage|detect`, and the composition root: the one module
 * that wires the stages (`tasks/registry.ts`) to the pipeline commands, which know no stage. On Linux it
 * reruns itself as a child whose stderr it filters (`core/stderr_filter.ts`).
 *
 * @example
 * ```sh
 * deno task pipeline run pipelines/ci.yaml --set train.iterations=20 --explain
 * deno task pipeline diff runs/a runs/b
 * deno task stage run pipelines/ci.yaml "train[loss=bce]" --run-dir runs/ci
 * deno task train pipelines/ci.yaml --dry
 * deno task detect photos/ --model runs/demo/stages/train@loss=eqlv2
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import { InputError } from "./core/errors.ts";
import { filterOwnStderr } from "./core/stderr_filter.ts";

/** The pipeline run when none is named: synthetic data, EQL v2 against BCE, evaluation, report. */
export const DEFAULT_PIPELINE = fileURLToPath(new URL("./pipelines/default.yaml", import.meta.url));

const FROM_USER = { from: "user" } as const;

async function _main(args: string[]): Promise<number | void> {
  if (args[0] === "detect") {
    const { detectCommand } = await import("./tasks/detect.ts");
    await detectCommand().parseAsync(args.slice(1), FROM_USER);
    return;
  }
  const { defaultRegistry } = await import("./tasks/registry.ts");
  if (args[0] === "stage") {
    const { runStageCli } = await import("./pipeline/stage_cli.ts");
    return await runStageCli(args.slice(1), defaultRegistry());
  }
  const { buildProgram, runCommand } = await import("./pipeline/cli.ts");
  const options = { registry: defaultRegistry(), defaultPipeline: DEFAULT_PIPELINE };
  // `deno task train` is `main.ts train`: the run command as a program of its own, so --help names it.
  if (args[0] === "train") await runCommand("deno task train", options).parseAsync(args.slice(1), FROM_USER);
  else await buildProgram(options).parseAsync(args, FROM_USER);
}

if (import.meta.main) {
  const code = await filterOwnStderr();
  if (code !== null) Deno.exit(code);
  try {
    const exit = await _main(Deno.args);
    if (typeof exit === "number") Deno.exit(exit);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const lines = e instanceof InputError ? message.split("\n") : [message.split("\n")[0]];
    for (const line of lines) console.error(`error: ${line}`);
    if (!(e instanceof InputError) && Deno.env.get("TAILOR_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
