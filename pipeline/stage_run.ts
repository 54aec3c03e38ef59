// One stage by itself, as a pod or CI job runs it: inputs from upstream records, which must be current.
import { join, resolve } from "node:path";
import { InputError, quote } from "../core/errors.ts";
import { stringsIn } from "./fingerprint.ts";
import type { Plan, PlannedStage } from "./plan.ts";
import { plainReporter, type ProgressReporter } from "./progress.ts";
import type { StageRegistry } from "./registry.ts";
import { rebuildManifest } from "./run_manifest.ts";
import { runLockHolder } from "./run_lock.ts";
import { runStage, stageKeyParts, type StageOutcome } from "./runner.ts";
import { readStageRecord, RECORD_FILE, whyRun } from "./stage_record.ts";

export interface StageRunOptions {
  runDir: string;
  registry: StageRegistry;
  explain?: boolean;
  reporter?: ProgressReporter;
  signal?: AbortSignal;
}

/**
 * Run (or skip, when up to date) the stage instance `id` of `plan` in `options.runDir`.
 *
 * @throws InputError for an unknown id, a run directory in use by `pipeline run`, or an input stage whose
 *   output is missing or out of date (naming the stage and the file)
 * @example
 * ```ts
 * const plan = planPipeline(await loadPipeline("pipelines/ci.yaml"), defaultRegistry());
 * await runOneStage(plan, "train[loss=bce]", { runDir: "runs/ci", registry: defaultRegistry() });
 * ```
 */
export async function runOneStage(plan: Plan, id: string, options: StageRunOptions): Promise<StageOutcome> {
  const stage = plan.byId.get(id);
  if (!stage) {
    throw new InputError(
      `Unknown stage ${quote(id)} in ${quote(plan.file)} (stages: ${[...plan.byId.keys()].join(", ")})`,
    );
  }
  const { runDir } = options;
  const holder = await runLockHolder(runDir);
  if (holder) throw new InputError(`Run directory ${quote(runDir)} is in use by a pipeline run: ${holder}`);
  const outcomes = await upstreamOutcomes(plan, stage, options);
  const reporter = options.reporter ?? plainReporter((s) => console.error(s));
  try {
    const { params } = await stageKeyParts(stage, outcomes, options);
    await _checkRunFiles(stage, params, runDir);
    await Deno.mkdir(join(runDir, "logs"), { recursive: true });
    const outcome = await runStage(stage, outcomes, { ...options, reporter });
    await rebuildManifest(plan, runDir);
    return outcome;
  } finally {
    reporter.stop();
  }
}

/** Outcomes of every stage `stage` depends on, from their records, checked against the plan's keys. */
export async function upstreamOutcomes(
  plan: Plan,
  stage: PlannedStage,
  options: { runDir: string; registry: StageRegistry },
): Promise<Map<string, StageOutcome>> {
  const needed = new Set<string>();
  const visit = (s: PlannedStage) => {
    for (const d of s.deps.filter((d) => !needed.has(d))) {
      needed.add(d);
      visit(plan.byId.get(d)!);
    }
  };
  visit(stage);
  const outcomes = new Map<string, StageOutcome>();
  for (const up of plan.stages.filter((s) => needed.has(s.id))) {
    const dir = join(options.runDir, "stages", up.dir);
    const record = await readStageRecord(dir);
    const what = `Cannot run ${quote(stage.id)}: its input stage ${quote(up.id)}`;
    if (!record) throw new InputError(`${what} has not finished (missing ${JSON.stringify(join(dir, RECORD_FILE))})`);
    const { parts, key } = await stageKeyParts(up, outcomes, options);
    const why = whyRun(record, parts, key);
    if (why) throw new InputError(`${what} is out of date in ${JSON.stringify(dir)} (${why}); run it first`);
    if (!up.kind.output.safeParse(record.outputs).success) {
      throw new InputError(`${what} recorded invalid outputs in ${JSON.stringify(join(dir, RECORD_FILE))}`);
    }
    outcomes.set(up.id, { status: "skipped", key, outputs: record.outputs });
  }
  return outcomes;
}

async function _checkRunFiles(stage: PlannedStage, params: unknown, runDir: string): Promise<void> {
  const root = resolve(runDir) + "/";
  for (const s of stringsIn(params)) {
    if (!s.includes("/") || !resolve(s).startsWith(root)) continue;
    try {
      await Deno.stat(s);
    } catch {
      throw new InputError(`Cannot run ${quote(stage.id)}: its input file ${JSON.stringify(s)} is missing`);
    }
  }
}
