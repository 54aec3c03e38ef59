// A GitLab CI pipeline: a job per stage (instances or shards as `parallel: matrix`), `needs` on every earlier job
// it takes outputs from, since GitLab passes artifacts only along `needs`.
import type { Plan } from "../plan.ts";
import { DENO_VERSION } from "./github_actions.ts";
import {
  ancestorGroups,
  type ExportGroup,
  type ExportOptions,
  shellWord,
  stageRunArgs,
  type WorkflowGraph,
  workflowGraph,
} from "./workflow_graph.ts";

const RESERVED = new Set([
  "default",
  "include",
  "stages",
  "variables",
  "workflow",
  "image",
  "services",
  "cache",
  "before_script",
  "after_script",
  "pages",
  "spec",
]);

export function gitlabCiPipeline(plan: Plan, options: ExportOptions): Record<string, unknown> {
  const graph = workflowGraph(plan, options);
  const job = (name: string) => (RESERVED.has(name) ? `${name}-stage` : name);
  const install = options.image ? [] : ["apt-get update -qq && apt-get install -y -qq mesa-vulkan-drivers"];
  return {
    stages: graph.groups.map((g) => g.name),
    variables: { RUN_DIR: options.runDir, XDG_RUNTIME_DIR: "/tmp/xdg", DENO_NO_UPDATE_CHECK: "1" },
    default: {
      image: options.image ?? `denoland/deno:debian-${DENO_VERSION}`,
      before_script: [...install, 'mkdir -p "$XDG_RUNTIME_DIR"', "deno install --frozen --allow-scripts"],
      // Failures of the machinery, not of the stage: worth one more try.
      retry: {
        max: 2,
        when: [
          "runner_system_failure",
          "stuck_or_timeout_failure",
          "scheduler_failure",
          "api_failure",
          "unknown_failure",
        ],
      },
    },
    ...Object.fromEntries(graph.groups.map((g) => [job(g.name), _job(graph, g, options, job)])),
  };
}

function _job(
  graph: WorkflowGraph,
  group: ExportGroup,
  options: ExportOptions,
  job: (name: string) => string,
): Record<string, unknown> {
  const single = group.tasks.length === 1 ? group.tasks[0] : undefined;
  const command = ["deno", "task", "stage", "run", ...stageRunArgs(options.pipelineFile, "$STAGE_ID", options)]
    .map((w) => (w === "$STAGE_ID" ? '"$STAGE_ID"' : w === options.runDir ? '"$RUN_DIR"' : shellWord(w)));
  const needs = ancestorGroups(graph, group).map(job);
  return {
    stage: group.name,
    ...(needs.length ? { needs } : {}),
    ...(single ? { variables: { STAGE_ID: single.id, STAGE_DIR: single.dir } } : {
      parallel: { matrix: group.tasks.map((t) => ({ STAGE_ID: t.id, STAGE_DIR: t.dir })) },
    }),
    ...(group.gpu ? { tags: ["gpu"] } : {}),
    script: [command.join(" ")],
    artifacts: {
      paths: ["$RUN_DIR/stages/$STAGE_DIR/", "$RUN_DIR/logs/$STAGE_DIR.log", "$RUN_DIR/outcomes/$STAGE_DIR.json"],
      expire_in: "1 week",
    },
  };
}
