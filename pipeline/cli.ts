// The `pipeline run|dag|explain|diff|export` commands over a given stage registry; `main.ts` wires in the stages.
import { Command, Option } from "@commander-js/extra-typings";
import { join } from "node:path";
import { writeFileAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { parseStorage } from "./export/argo.ts";
import { EXPORT_TARGETS, exportPipeline } from "./export/export_pipeline.ts";
import { explainPlan, formatDag, formatDecisions } from "./explain_plan.ts";
import { diffMetrics, formatDiff, loadRunMetrics } from "./metrics_diff.ts";
import { loadPipeline } from "./pipeline_file.ts";
import { type Plan, planPipeline } from "./plan.ts";
import { defaultReporter } from "./progress.ts";
import type { StageRegistry } from "./registry.ts";
import { runPlan } from "./runner.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export interface ProgramOptions {
  registry: StageRegistry;
  defaultPipeline: string;
}

/**
 * Build the command-line program of `deno task pipeline`.
 *
 * @example
 * ```ts
 * await buildProgram(options).parseAsync(["dag", "pipelines/ci.yaml"], { from: "user" });
 * ```
 */
export function buildProgram({ registry, defaultPipeline }: ProgramOptions): Command {
  const _plan = async (file: string | undefined, sets: string[], checkInputs = true): Promise<Plan> =>
    planPipeline(await loadPipeline(file ?? defaultPipeline, sets), registry, { checkInputs });
  const program = new Command("deno task pipeline").description("Run and inspect tailor pipelines")
    .showHelpAfterError();
  program.addCommand(runCommand("run", { registry, defaultPipeline }));
  program.command("dag").description("Print the stages and their dependencies")
    .argument("[pipeline]", "pipeline YAML file")
    .option("--set <path=value>", "override a parameter", collect, [])
    .addOption(new Option("--format <format>", "output format").choices(["text", "dot"] as const).default("text"))
    .action(async (file, opts) => console.log(formatDag(await _plan(file, opts.set, false), opts.format)));
  program.command("explain").description("Say which stages a run would run, and why")
    .argument("[pipeline]", "pipeline YAML file")
    .option("--set <path=value>", "override a parameter", collect, [])
    .option("--run-dir <dir>", "run directory (default: runs/<pipeline name>)")
    .action(async (file, opts) => {
      const plan = await _plan(file, opts.set);
      const runDir = opts.runDir ?? join("runs", plan.name);
      console.log(formatDecisions(await explainPlan(plan, { runDir, registry }), false));
    });
  program.command("export").description("Write the pipeline as an Argo workflow or a CI pipeline (one task per stage)")
    .addOption(new Option("--to <target>", "engine").choices(EXPORT_TARGETS).makeOptionMandatory())
    .argument("[pipeline]", "pipeline YAML file (default: the embedded default pipeline)")
    .option("--set <path=value>", "override a parameter (passed to every task too)", collect, [])
    .option("--run-dir <dir>", "run directory under runs/ (default: runs/<pipeline name>)")
    .option("--image <image>", "container image with tailor (Argo: required; CI: instead of installing Deno and Mesa)")
    .option(
      "--gpu-stages <names>",
      "stages whose tasks get a GPU, comma-separated",
      (v) => v.split(",").filter(Boolean),
      [],
    )
    .option("--storage <where>", "Argo: run directory on pvc:CLAIM (ReadWriteMany) or s3:BUCKET/PREFIX")
    .option("--s3-endpoint <host>", "Argo with s3: the endpoint (default s3.amazonaws.com)")
    .option(
      "--s3-secret <name>",
      "Argo with s3: Secret with accessKey and secretKey (default: the pod's own credentials)",
    )
    .option("--cpu <n>", "Argo: CPU request of each task", "2")
    .option("--memory <size>", "Argo: memory request and limit of each task", "8Gi")
    .option("--template", "Argo: a WorkflowTemplate instead of a Workflow")
    .option("--out <file>", "write here instead of printing")
    .action(async (file, opts) => {
      const pipelineFile = file ?? defaultPipeline;
      const loaded = await loadPipeline(pipelineFile, opts.set);
      const plan = planPipeline(loaded, registry);
      const storage = opts.storage
        ? parseStorage(opts.storage, { endpoint: opts.s3Endpoint, secret: opts.s3Secret })
        : undefined;
      const text = exportPipeline(plan, opts.to, {
        pipelineFile,
        pipelineText: loaded.text,
        sets: opts.set,
        runDir: opts.runDir ?? join("runs", plan.name),
        gpuStages: opts.gpuStages,
        image: opts.image,
        storage,
        cpu: opts.cpu,
        memory: opts.memory,
        template: opts.template,
      }, _exportCommand(opts.to, file, opts));
      if (opts.out) await writeFileAtomic(opts.out, text);
      else console.log(text.trimEnd());
    });
  program.command("diff").description("Compare the metrics of two runs (run directories or metrics.json files)")
    .argument("<a>", "first run").argument("<b>", "second run")
    .action(async (a, b) => console.log(formatDiff(diffMetrics(await loadRunMetrics(a), await loadRunMetrics(b)))));
  return program as unknown as Command;
}

function _exportCommand(to: string, file: string | undefined, opts: Record<string, unknown>): string[] {
  const words = ["deno", "task", "pipeline", "export", "--to", to, ...(file ? [file] : [])];
  for (const s of opts.set as string[]) words.push("--set", s);
  const gpu = opts.gpuStages as string[];
  if (gpu.length) words.push("--gpu-stages", gpu.join(","));
  const flags = ["runDir", "image", "storage", "s3Endpoint", "s3Secret", ...(to === "argo" ? ["cpu", "memory"] : [])];
  for (const key of flags) {
    if (opts[key] !== undefined) {
      words.push(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(opts[key]));
    }
  }
  if (opts.template) words.push("--template");
  return words;
}

/**
 * The `run` command, also the whole program of `deno task train` (then named so, which its `--help` shows).
 *
 * @example
 * ```ts
 * await runCommand("deno task train", options).parseAsync(["pipelines/ci.yaml", "--dry"], { from: "user" });
 * ```
 */
export function runCommand(name: string, { registry, defaultPipeline }: ProgramOptions): Command {
  const _plan = async (file: string | undefined, sets: string[]): Promise<Plan> =>
    planPipeline(await loadPipeline(file ?? defaultPipeline, sets), registry, { checkInputs: true });
  return new Command(name).description("Run a pipeline; unchanged stages are skipped").showHelpAfterError()
    .argument("[pipeline]", "pipeline YAML file (default: the embedded default pipeline)")
    .option("--set <path=value>", "override a parameter: stage.param=value or vars.name=value", collect, [])
    .option("--dry", "print the plan and stop")
    .option("--explain", "say why each stage runs or is skipped")
    .addOption(new Option("--jobs <n>", "stages run at once").argParser((v) => _positiveInt(v, "--jobs")).default(2))
    .option("--run-dir <dir>", "run directory (default: runs/<pipeline name>)")
    .action(async (file, opts) => {
      const plan = await _plan(file, opts.set);
      const runDir = opts.runDir ?? join("runs", plan.name);
      if (opts.dry) {
        console.log(`plan ${plan.name} (${plan.file}) in ${runDir}`);
        console.log(formatDecisions(await explainPlan(plan, { runDir, registry }), true));
        return;
      }
      const controller = new AbortController();
      const onInterrupt = () => {
        if (controller.signal.aborted) Deno.exit(130);
        console.error("interrupted: stopping after running stages (press again to quit now)");
        controller.abort();
      };
      Deno.addSignalListener("SIGINT", onInterrupt);
      try {
        const result = await runPlan(plan, {
          runDir,
          registry,
          jobs: opts.jobs,
          explain: opts.explain,
          reporter: defaultReporter(),
          signal: controller.signal,
        });
        console.log(`manifest: ${result.manifestPath}`);
        const failed = [...result.stages].filter(([, o]) => o.status !== "done" && o.status !== "skipped");
        if (failed.length) {
          throw new InputError(`${failed.length} stage(s) did not finish: ${failed.map(_say).join("; ")}`);
        }
        const leaves = plan.stages.filter((s) => !plan.stages.some((t) => t.deps.includes(s.id)));
        for (const leaf of leaves) {
          const outputs = result.stages.get(leaf.id)?.outputs ?? {};
          // A stage's plain-text summary (the report's AP table) is what a user came for: show it.
          if (typeof outputs.summary === "string") {
            console.log(`\n${(await Deno.readTextFile(outputs.summary)).trimEnd()}\n`);
          }
          if (typeof outputs.html === "string") console.log(`report: ${outputs.html}`);
          else {for (const [name, value] of Object.entries(outputs)) {
              console.log(`${leaf.id}.${name}: ${JSON.stringify(value)}`);
            }}
        }
      } finally {
        Deno.removeSignalListener("SIGINT", onInterrupt);
      }
    }) as unknown as Command;
}

function _say([id, o]: [string, { status: string; error?: string }]): string {
  return `${id} ${o.status}${o.error ? ` (${o.error})` : ""}`;
}

function _positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`Invalid ${flag} "${value}": expected a whole number >= 1`);
  return n;
}
