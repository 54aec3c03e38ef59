// What every export shares: stage instances as tasks, grouped into CI jobs (a stage's instances, its shards).
import { basename } from "node:path";
import { InputError, quote } from "../../core/errors.ts";
import type { Plan, PlannedStage } from "../plan.ts";

export interface ExportOptions {
  pipelineFile: string;
  pipelineText: string;
  /** `--set` arguments, repeated on every task's command line. */
  sets: readonly string[];
  /** Relative, under `runs/` (the tasks may write nowhere else). */
  runDir: string;
  gpuStages: readonly string[];
  /** Container image (Argo: required; CI: replaces installing Deno and Mesa). */
  image?: string;
}

export interface ExportTask {
  id: string;
  /** Folder name under `stages/`, `logs/` and `outcomes/`. */
  dir: string;
  deps: string[];
  gpu: boolean;
  group: string;
}

export interface ExportGroup {
  name: string;
  tasks: ExportTask[];
  needs: string[];
  gpu: boolean;
}

export interface WorkflowGraph {
  name: string;
  tasks: ExportTask[];
  groups: ExportGroup[];
}

/** Tasks and CI groups of a plan; a shard's merge needs no GPU even when its stage does. */
export function workflowGraph(plan: Plan, options: Pick<ExportOptions, "gpuStages" | "runDir">): WorkflowGraph {
  const templates = [...new Set(plan.stages.map((s) => s.template))];
  for (const name of options.gpuStages) {
    if (!templates.includes(name)) {
      throw new InputError(
        `--gpu-stages: no stage ${quote(name)} in ${quote(plan.file)} (stages: ${templates.join(", ")})`,
      );
    }
  }
  if (!/^runs\/[^/]/.test(options.runDir) || options.runDir.split("/").includes("..")) {
    throw new InputError(
      `Invalid --run-dir ${quote(options.runDir)}: expected a folder under runs/, as tasks write only there`,
    );
  }
  const partsName = (t: string) => {
    let name = `${t}-parts`;
    while (templates.includes(name)) name += "_";
    return name;
  };
  const isMerge = (s: PlannedStage) =>
    s.deps.some((d) => plan.byId.get(d)!.part && plan.byId.get(d)!.template === s.template);
  const tasks = plan.stages.map((s): ExportTask => ({
    id: s.id,
    dir: s.dir,
    deps: s.deps,
    gpu: options.gpuStages.includes(s.template) && !isMerge(s),
    group: s.part ? partsName(s.template) : s.template,
  }));
  const groupOf = new Map(tasks.map((t) => [t.id, t.group]));
  const groups: ExportGroup[] = [];
  for (const t of tasks) {
    let g = groups.find((x) => x.name === t.group);
    if (!g) groups.push(g = { name: t.group, tasks: [], needs: [], gpu: false });
    g.tasks.push(t);
    g.gpu ||= t.gpu;
    for (const d of t.deps) {
      if (groupOf.get(d) !== g.name && !g.needs.includes(groupOf.get(d)!)) g.needs.push(groupOf.get(d)!);
    }
  }
  const order = groups.map((g) => g.name);
  for (const g of groups) g.needs.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return { name: plan.name, tasks, groups };
}

/** Every group a group waits for, directly or not, in run order (CI systems pass artifacts only along `needs`). */
export function ancestorGroups(graph: WorkflowGraph, group: ExportGroup): string[] {
  const seen = new Set<string>();
  const visit = (g: ExportGroup) => {
    for (const n of g.needs.filter((n) => !seen.has(n))) {
      seen.add(n);
      visit(graph.groups.find((x) => x.name === n)!);
    }
  };
  visit(group);
  return graph.groups.map((g) => g.name).filter((n) => seen.has(n));
}

/** The arguments after `deno task stage run` of one task, with `id` given as written (a literal or a placeholder). */
export function stageRunArgs(
  pipelinePath: string,
  id: string,
  options: Pick<ExportOptions, "runDir" | "sets">,
): string[] {
  return [pipelinePath, id, "--run-dir", options.runDir, ...options.sets.flatMap((s) => ["--set", s])];
}

export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

export function pipelineBaseName(options: Pick<ExportOptions, "pipelineFile">): string {
  return basename(options.pipelineFile);
}
