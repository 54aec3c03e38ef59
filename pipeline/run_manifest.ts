/**
 * A run's manifest (`manifest.json`): every stage instance of the plan with
 * how it last ended. Each stage also leaves its outcome in its own file
 * (`outcomes/<dir>.json`), so processes that each run one stage (pods, CI
 * jobs) never write a shared file blindly: the manifest is rebuilt from the
 * outcome files under a lock, and artifacts that carry the outcome files
 * carry everything the manifest needs.
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../core/atomic.ts";
import { lockFile } from "./file_lock.ts";
import type { Plan, PlannedStage } from "./plan.ts";
import type { StageOutcome } from "./runner.ts";
import { adapterInfo, gitCommit } from "./run_info.ts";

/** Folder of the per-stage outcome files inside a run directory. */
export const OUTCOMES_DIR = "outcomes";

/** Where and when a run happened, for its manifest. */
export interface RunFacts {
  status: string;
  startedAt: string;
  seconds: number;
  git?: string;
  adapter?: Record<string, unknown>;
}

/** The git commit and adapter of this process, for `RunFacts`. */
export async function runFacts(): Promise<Pick<RunFacts, "git" | "adapter">> {
  return { git: await gitCommit(), adapter: await adapterInfo() };
}

/** The manifest's content. */
export function manifestOf(plan: Plan, runDir: string, outcomes: Map<string, StageOutcome>, facts: RunFacts) {
  const { status, startedAt, seconds, git, adapter } = facts;
  return {
    pipeline: { name: plan.name, file: plan.file },
    runDir,
    status,
    startedAt,
    seconds,
    git,
    adapter,
    stages: Object.fromEntries(plan.stages.map((s) => [s.id, { kind: s.kind.kind, ...outcomes.get(s.id) }])),
  };
}

/** Write one stage's outcome beside the others (atomically; the file is that stage's alone). */
export function writeOutcome(runDir: string, stage: PlannedStage, outcome: StageOutcome): Promise<void> {
  return writeJsonAtomic(join(runDir, OUTCOMES_DIR, `${stage.dir}.json`), { id: stage.id, ...outcome }, 2);
}

/**
 * Rebuild `manifest.json` from the outcome files of the plan's stages; stages without one are "pending".
 * The status is "ok" when every stage is done or skipped, "failed" when one failed, else "running".
 *
 * @example
 * ```ts
 * await rebuildManifest(plan, "runs/ci"); // "runs/ci/manifest.json"
 * ```
 */
export async function rebuildManifest(plan: Plan, runDir: string): Promise<string> {
  const path = join(runDir, "manifest.json");
  const release = await lockFile(join(runDir, "locks", "manifest.lock"));
  try {
    const outcomes = new Map<string, StageOutcome>();
    for (const stage of plan.stages) {
      try {
        const { id: _, ...outcome } = JSON.parse(
          await Deno.readTextFile(join(runDir, OUTCOMES_DIR, `${stage.dir}.json`)),
        );
        outcomes.set(stage.id, outcome);
      } catch {
        outcomes.set(stage.id, { status: "pending" });
      }
    }
    const all = [...outcomes.values()];
    const status = all.every((o) => o.status === "done" || o.status === "skipped")
      ? "ok"
      : all.some((o) => o.status === "failed")
      ? "failed"
      : "running";
    const starts = all.map((o) => o.startedAt).filter((s): s is string => !!s).sort();
    const startedAt = starts[0] ?? new Date().toISOString();
    const seconds = (Date.now() - Date.parse(startedAt)) / 1000;
    await writeJsonAtomic(
      path,
      manifestOf(plan, runDir, outcomes, { status, startedAt, seconds, ...await runFacts() }),
      2,
    );
  } finally {
    await release();
  }
  return path;
}
