// `manifest.json` is rebuilt from per-stage outcome files under a lock, so processes that each run one stage
// (pods, CI jobs) never write a shared file blindly.
import { join } from "node:path";
import { writeJsonAtomic } from "../core/atomic.ts";
import { lockFile } from "./file_lock.ts";
import type { Plan, PlannedStage } from "./plan.ts";
import type { StageOutcome } from "./runner.ts";
import { adapterInfo, gitCommit } from "./run_info.ts";

export const OUTCOMES_DIR = "outcomes";

export interface RunFacts {
  status: string;
  startedAt: string;
  seconds: number;
  git?: string;
  adapter?: Record<string, unknown>;
}

export async function runFacts(): Promise<Pick<RunFacts, "git" | "adapter">> {
  return { git: await gitCommit(), adapter: await adapterInfo() };
}

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

/** Rebuild `manifest.json`: stages without an outcome file are "pending". */
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
