// `--dry` and `explain`: which stages would run and why, predicted from the records of finished stages.
import { join } from "node:path";
import type { Plan } from "./plan.ts";
import { collectRefs, Interpolation, OutputRef } from "./refs.ts";
import type { StageRegistry } from "./registry.ts";
import { stageKeyParts, type StageOutcome } from "./runner.ts";
import { readStageRecord, whyRun } from "./stage_record.ts";

export interface StageDecision {
  id: string;
  kind: string;
  deps: string[];
  willRun: boolean;
  reason: string;
  params: unknown;
}

export async function explainPlan(
  plan: Plan,
  options: { runDir: string; registry: StageRegistry },
): Promise<StageDecision[]> {
  const outcomes = new Map<string, StageOutcome>();
  const decisions: StageDecision[] = [];
  for (const stage of plan.stages) {
    const params = _showRefs(stage.params);
    const base = { id: stage.id, kind: stage.kind.kind, deps: stage.deps, params };
    const rerun = stage.deps.find((d) => outcomes.get(d)?.status !== "skipped");
    if (rerun) {
      decisions.push({ ...base, willRun: true, reason: `needs "${rerun}", which will run` });
      outcomes.set(stage.id, { status: "done" });
      continue;
    }
    let reason: string | undefined;
    let key: string | undefined;
    const previous = await readStageRecord(join(options.runDir, "stages", stage.dir));
    try {
      const computed = await stageKeyParts(stage, outcomes, options);
      key = computed.key;
      reason = whyRun(previous, computed.parts, computed.key);
    } catch (e) {
      reason = `parameters are invalid: ${(e as Error).message}`;
    }
    if (reason) {
      decisions.push({ ...base, willRun: true, reason });
      outcomes.set(stage.id, { status: "done" });
    } else {
      decisions.push({ ...base, willRun: false, reason: `up to date (key ${key})` });
      outcomes.set(stage.id, { status: "skipped", key, outputs: previous!.outputs });
    }
  }
  return decisions;
}

export function formatDecisions(decisions: StageDecision[], withParams: boolean): string {
  const lines: string[] = [];
  for (const d of decisions) {
    const needs = d.deps.length ? `  needs: ${d.deps.join(", ")}` : "";
    lines.push(`${d.willRun ? "run " : "skip"} ${d.id} (${d.kind})${needs}`);
    lines.push(`     ${d.reason}`);
    if (withParams) lines.push(`     with: ${JSON.stringify(d.params)}`);
  }
  return lines.join("\n");
}

export function formatDag(plan: Plan, format: "text" | "dot"): string {
  if (format === "dot") {
    const edges = plan.stages.flatMap((s) => s.deps.map((d) => `  "${d}" -> "${s.id}";`));
    const nodes = plan.stages.map((s) => `  "${s.id}" [label="${s.id}\\n(${s.kind.kind})"];`);
    return `digraph "${plan.name}" {\n${[...nodes, ...edges].join("\n")}\n}`;
  }
  return plan.stages.map((s) => {
    const refs = collectRefs(s.params).map(_refText);
    const uses = refs.length ? `  takes ${[...new Set(refs)].join(", ")}` : "";
    return `${s.id} (${s.kind.kind}: ${s.kind.description})${s.deps.length ? ` <- ${s.deps.join(", ")}` : ""}${uses}`;
  }).join("\n");
}

function _showRefs(value: unknown): unknown {
  if (value instanceof OutputRef) return _refText(value);
  if (value instanceof Interpolation) return value.parts.map((p) => (typeof p === "string" ? p : _refText(p))).join("");
  if (Array.isArray(value)) return value.map(_showRefs);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, _showRefs(v)]));
  }
  return value;
}

function _refText(ref: OutputRef): string {
  return `\${${ref.stageId}.${ref.output}}`;
}
