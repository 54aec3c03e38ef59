/**
 * The `stage run|list|manifest` commands: one stage instance at a time, the unit an exported workflow runs per
 * task. Exit status: 0 done or up to date, 1 the stage failed, 2 bad input (not worth retrying unchanged).
 *
 * @example
 * ```sh
 * deno task stage list pipelines/ci.yaml
 * deno task stage run pipelines/ci.yaml "train[loss=bce]" --run-dir runs/ci
 * ```
 */
import { Command } from "@commander-js/extra-typings";
import { join } from "node:path";
import { InputError } from "../core/errors.ts";
import { loadPipeline } from "./pipeline_file.ts";
import { type Plan, planPipeline } from "./plan.ts";
import { defaultReporter } from "./progress.ts";
import type { StageRegistry } from "./registry.ts";
import { rebuildManifest } from "./run_manifest.ts";
import { runOneStage } from "./stage_run.ts";

export const EXIT_BAD_INPUT = 2;

const collect = (value: string, previous: string[]) => [...previous, value];

/** Build the command-line program over `registry`; actions set `exitCode` on the returned holder. */
export function buildStageProgram(
  registry: StageRegistry,
): { program: Command; exit: { code: number } } {
  const exit = { code: 0 };
  const plan = async (file: string, sets: string[]): Promise<Plan> =>
    planPipeline(await loadPipeline(file, sets), registry);
  const program = new Command("stage").description("Run one stage instance of a pipeline").showHelpAfterError();
  program.command("run").description("Run one stage instance; its inputs must be in the run directory")
    .argument("<pipeline>", "pipeline YAML file")
    .argument("<stage>", "stage instance id, e.g. train[loss=bce] (see `stage list`)")
    .option("--set <path=value>", "override a parameter: stage.param=value or vars.name=value", collect, [])
    .option("--run-dir <dir>", "run directory (default: runs/<pipeline name>)")
    .option("--explain", "say why the stage runs or is skipped")
    .action(async (file, id, opts) => {
      const p = await plan(file, opts.set);
      const runDir = opts.runDir ?? join("runs", p.name);
      const outcome = await runOneStage(p, id, {
        runDir,
        registry,
        explain: opts.explain,
        reporter: defaultReporter(),
      });
      if (outcome.status === "failed" || outcome.status === "cancelled") {
        console.error(`error: ${id} ${outcome.status}${outcome.error ? `: ${outcome.error}` : ""}`);
        exit.code = outcome.inputError ? EXIT_BAD_INPUT : 1;
        return;
      }
      for (const [name, value] of Object.entries(outcome.outputs ?? {})) {
        console.log(`${id}.${name}: ${JSON.stringify(value)}`);
      }
    });
  program.command("list").description("Print the stage instance ids in run order, with what each waits for")
    .argument("<pipeline>", "pipeline YAML file")
    .option("--set <path=value>", "override a parameter", collect, [])
    .action(async (file, opts) => {
      for (const s of (await plan(file, opts.set)).stages) {
        console.log(s.deps.length ? `${s.id} <- ${s.deps.join(" ")}` : s.id);
      }
    });
  program.command("manifest").description("Rebuild manifest.json from the stages' outcome files")
    .argument("<pipeline>", "pipeline YAML file")
    .option("--set <path=value>", "override a parameter", collect, [])
    .option("--run-dir <dir>", "run directory (default: runs/<pipeline name>)")
    .action(async (file, opts) => {
      const p = await plan(file, opts.set);
      console.log(await rebuildManifest(p, opts.runDir ?? join("runs", p.name)));
    });
  return { program: program as unknown as Command, exit };
}

export async function runStageCli(args: string[], registry: StageRegistry): Promise<number> {
  const { program, exit } = buildStageProgram(registry);
  try {
    await program.parseAsync(args, { from: "user" });
    return exit.code;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`error: ${message.split("\n")[0]}`);
    if (!(e instanceof InputError) && Deno.env.get("TAILOR_DEBUG")) console.error(e);
    return e instanceof InputError ? EXIT_BAD_INPUT : 1;
  }
}
