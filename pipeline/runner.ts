// Unchanged stages are skipped by key; outputs built under a temporary name and renamed into place.
import { join } from "node:path";
import { writeDirAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { hashValue, inputFingerprints, type KeyParts, relativeToRun, stringsIn } from "./fingerprint.ts";
import { lockFile } from "./file_lock.ts";
import type { Plan, PlannedStage } from "./plan.ts";
import { plainReporter, type ProgressReporter } from "./progress.ts";
import { resolveRefs } from "./refs.ts";
import type { StageRegistry } from "./registry.ts";
import { manifestOf, runFacts, writeOutcome } from "./run_manifest.ts";
import { acquireRunLock } from "./run_lock.ts";
import { readStageRecord, RECORD_FILE, type StageRecord, whyRun } from "./stage_record.ts";
import type { StageContext } from "./stage.ts";

/** Said at the start of a run without an adapter: the stages that need none still run. */
const NO_ADAPTER = "no WebGPU adapter was found, so stages that train or predict will fail: install Mesa's Vulkan " +
  "driver (apt-get install mesa-vulkan-drivers) and set XDG_RUNTIME_DIR";

export interface RunOptions {
  runDir: string;
  registry: StageRegistry;
  jobs?: number;
  explain?: boolean;
  reporter?: ProgressReporter;
  signal?: AbortSignal;
}

/** How one stage ended ("pending": not run yet, in a manifest rebuilt from outcome files). */
export interface StageOutcome {
  status: "done" | "skipped" | "failed" | "blocked" | "cancelled" | "pending";
  reason?: string;
  key?: string;
  /** Code version, resolved parameters and input fingerprints the key was made of. */
  code?: string;
  params?: unknown;
  inputs?: Record<string, string>;
  startedAt?: string;
  outputs?: Record<string, unknown>;
  seconds?: number;
  error?: string;
  /** The failure was bad input (an InputError): running it again unchanged cannot help. */
  inputError?: boolean;
}

export interface RunResult {
  ok: boolean;
  stages: Map<string, StageOutcome>;
  manifestPath: string;
}

/**
 * Run `plan` in `options.runDir`, holding its lock.
 *
 * @example
 * ```ts
 * const plan = planPipeline(await loadPipeline("pipelines/ci.yaml"), defaultRegistry());
 * const result = await runPlan(plan, { runDir: "runs/ci", registry: defaultRegistry() });
 * ```
 */
export async function runPlan(plan: Plan, options: RunOptions): Promise<RunResult> {
  const { runDir } = options;
  const reporter = options.reporter ?? plainReporter((s) => console.error(s));
  const release = await acquireRunLock(runDir);
  const manifestPath = join(runDir, "manifest.json");
  const outcomes = new Map<string, StageOutcome>();
  const started = new Date().toISOString();
  const t0 = performance.now();
  const info = await runFacts();
  if (info.adapter?.advice) reporter.line(`warning: ${info.adapter.advice}`);
  if (!info.adapter) reporter.line(`warning: ${NO_ADAPTER}`);
  const writeManifest = (status: string) =>
    writeJsonAtomic(
      manifestPath,
      manifestOf(plan, runDir, outcomes, {
        status,
        startedAt: started,
        seconds: (performance.now() - t0) / 1000,
        ...info,
      }),
      2,
    );
  try {
    await Deno.mkdir(join(runDir, "logs"), { recursive: true });
    const running = new Map<string, Promise<void>>();
    const pending = [...plan.stages];
    const jobs = Math.max(1, options.jobs ?? 2);
    let stopping = false;
    while (pending.length || running.size) {
      if (options.signal?.aborted) stopping = true;
      for (let i = 0; i < pending.length && running.size < jobs && !stopping; i++) {
        const stage = pending[i];
        const deps = stage.deps.map((d) => outcomes.get(d)?.status);
        if (deps.some((s) => s === "failed" || s === "blocked" || s === "cancelled")) {
          outcomes.set(stage.id, { status: "blocked", reason: "a stage it needs did not finish" });
          pending.splice(i--, 1);
          continue;
        }
        if (!deps.every((s) => s === "done" || s === "skipped")) continue;
        pending.splice(i--, 1);
        const job = runStage(stage, outcomes, { ...options, reporter }).then(async (outcome) => {
          outcomes.set(stage.id, outcome);
          running.delete(stage.id);
          if (outcome.status === "failed") stopping = true;
          await writeManifest("running");
        });
        running.set(stage.id, job);
      }
      if (running.size) await Promise.race(running.values());
      else if (pending.length) {
        for (const stage of pending) outcomes.set(stage.id, { status: stopping ? "cancelled" : "blocked" });
        pending.length = 0;
      }
    }
    const ok = plan.stages.every((s) => ["done", "skipped"].includes(outcomes.get(s.id)?.status ?? ""));
    await writeManifest(ok ? "ok" : options.signal?.aborted ? "cancelled" : "failed");
    return { ok, stages: outcomes, manifestPath };
  } finally {
    reporter.stop();
    await release();
  }
}

/**
 * Run one stage whose dependencies have finished, or skip it when up to date, holding its lock, so another
 * process running the same stage waits and then finds it up to date; removes torn outputs first.
 */
export async function runStage(
  stage: PlannedStage,
  outcomes: Map<string, StageOutcome>,
  options: RunOptions & { reporter: ProgressReporter },
): Promise<StageOutcome> {
  const { runDir, reporter } = options;
  const release = await lockFile(
    join(runDir, "locks", `${stage.dir}.lock`),
    (who) => reporter.line(`${stage.id}: waiting for ${who}, which runs this stage`),
  );
  try {
    await _removeTornOutput(runDir, stage.dir);
    const outcome = await _runStage(stage, outcomes, options);
    await writeOutcome(runDir, stage, outcome);
    return outcome;
  } finally {
    await release();
  }
}

async function _runStage(
  stage: PlannedStage,
  outcomes: Map<string, StageOutcome>,
  options: RunOptions & { reporter: ProgressReporter },
): Promise<StageOutcome> {
  const { runDir, reporter } = options;
  const stageDir = join(runDir, "stages", stage.dir);
  const logPath = join(runDir, "logs", `${stage.dir}.log`);
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  try {
    const { parts, key, params } = await stageKeyParts(stage, outcomes, options);
    const previous = await readStageRecord(stageDir);
    const reason = whyRun(previous, parts, key);
    if (!reason) {
      const outputs = stage.kind.output.safeParse(previous!.outputs);
      if (outputs.success && await _filesExist(previous!.outputs, stageDir)) {
        if (options.explain) reporter.line(`${stage.id}: skip, up to date (key ${key})`);
        else reporter.line(`${stage.id}: up to date`);
        const { code, params: shown, inputs } = parts;
        return {
          status: "skipped",
          reason: "up to date",
          key,
          code,
          params: shown,
          inputs,
          outputs: previous!.outputs,
        };
      }
    }
    reporter.line(`${stage.id}: run${options.explain ? `, ${reason ?? "recorded outputs are invalid"}` : ""}`);
    const log = await Deno.open(logPath, { create: true, append: true });
    const encoder = new TextEncoder();
    const writeLog = (line: string) => log.writeSync(encoder.encode(`${new Date().toISOString()} ${line}\n`));
    writeLog(`start ${stage.id} (${stage.kind.kind}) key ${key}: ${reason}`);
    reporter.stageStart(stage.id);
    const workDir = join(runDir, "work", `${stage.dir}-${key}`);
    await Deno.mkdir(workDir, { recursive: true });
    let outputs: Record<string, unknown> = {};
    try {
      await writeDirAtomic(stageDir, async (tmp) => {
        const ctx: StageContext = {
          outDir: tmp,
          workDir,
          runDir,
          log: (m) => {
            writeLog(m);
            reporter.line(`${stage.id}: ${m}`);
          },
          progress: (done, total, info, phase) => reporter.progress(stage.id, done, total, info, phase),
          signal: options.signal ?? new AbortController().signal,
        };
        const raw = await stage.kind.run(params, ctx);
        const checked = stage.kind.output.safeParse(raw);
        if (!checked.success) {
          throw new Error(`Stage ${stage.id} returned an invalid output: ${checked.error.issues[0].message}`);
        }
        outputs = _movePaths(checked.data, tmp, stageDir) as Record<string, unknown>;
        const record: StageRecord = { id: stage.id, key, ...parts, outputs, startedAt, seconds: _since(t0) };
        await writeJsonAtomic(join(tmp, RECORD_FILE), record, 2);
      });
      writeLog(`done in ${_since(t0).toFixed(1)} s`);
    } catch (e) {
      writeLog(`failed: ${(e as Error).stack ?? e}`);
      throw e;
    } finally {
      log.close();
      reporter.stageEnd(stage.id);
    }
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
    reporter.line(`${stage.id}: done in ${_since(t0).toFixed(1)} s`);
    const { code, params: shown, inputs } = parts;
    return { status: "done", reason, key, code, params: shown, inputs, startedAt, outputs, seconds: _since(t0) };
  } catch (e) {
    const message = (e as Error).message.split("\n")[0];
    const cancelled = options.signal?.aborted;
    reporter.line(`${stage.id}: ${cancelled ? "cancelled" : "failed"}: ${message} (log: ${logPath})`);
    const inputError = e instanceof InputError ? { inputError: true } : {};
    return { status: cancelled ? "cancelled" : "failed", error: message, seconds: _since(t0), ...inputError };
  }
}

/** A stage's key, its parts and its resolved parameters; exported for `explain`. */
export async function stageKeyParts(
  stage: PlannedStage,
  outcomes: Map<string, StageOutcome>,
  options: { runDir: string; registry: StageRegistry },
): Promise<{ parts: KeyParts; key: string; params: unknown }> {
  const resolved = resolveRefs(stage.params, (ref) => outcomes.get(ref.stageId)?.outputs?.[ref.output]);
  const parsed = stage.kind.params.safeParse(resolved);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`Invalid parameters for ${stage.id} at "${issue.path.join(".")}": ${issue.message}`);
  }
  const parts: KeyParts = {
    kind: stage.kind.kind,
    code: await options.registry.codeVersion(stage.kind.kind),
    params: relativeToRun(parsed.data, options.runDir),
    inputs: await inputFingerprints(parsed.data, options.runDir),
    upstream: Object.fromEntries(stage.deps.map((d) => [d, outcomes.get(d)?.key ?? "?"])),
  };
  return { parts, key: hashValue(parts), params: parsed.data };
}

async function _removeTornOutput(runDir: string, dir: string): Promise<void> {
  const stages = join(runDir, "stages");
  const torn = new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.\\d+\\.[0-9a-z]+\\.[0-9a-z]+\\.tmp$`);
  try {
    for await (const e of Deno.readDir(stages)) {
      if (torn.test(e.name)) await Deno.remove(join(stages, e.name), { recursive: true }).catch(() => {});
    }
  } catch {
    // No stages yet.
  }
}

/** Whether every path under `stageDir` that `outputs` names still exists (a deleted output re-runs the stage). */
async function _filesExist(outputs: unknown, stageDir: string): Promise<boolean> {
  for (const s of stringsIn(outputs)) {
    if (!s.startsWith(stageDir + "/")) continue;
    try {
      await Deno.stat(s);
    } catch {
      return false;
    }
  }
  return true;
}

function _movePaths(value: unknown, from: string, to: string): unknown {
  return JSON.parse(
    JSON.stringify(
      value,
      (_k, v) => typeof v === "string" && (v === from || v.startsWith(from + "/")) ? to + v.slice(from.length) : v,
    ),
  );
}

function _since(t0: number): number {
  return (performance.now() - t0) / 1000;
}
