// A GitHub Actions workflow: a job per stage (instances or shards as a matrix), stage folders passed as artifacts.
import type { Plan } from "../plan.ts";
import { type ExportGroup, type ExportOptions, shellWord, stageRunArgs, workflowGraph } from "./workflow_graph.ts";

/** The Deno version the project pins (README, `.ci/run`). */
export const DENO_VERSION = "2.9.6";

export function githubActionsWorkflow(plan: Plan, options: ExportOptions): Record<string, unknown> {
  const graph = workflowGraph(plan, options);
  const jobs = Object.fromEntries(graph.groups.map((g) => [g.name, _job(g, options)]));
  return {
    name: `tailor ${plan.name}`,
    on: { workflow_dispatch: {} },
    permissions: { contents: "read" },
    env: { RUN_DIR: options.runDir, XDG_RUNTIME_DIR: "/tmp/xdg", DENO_NO_UPDATE_CHECK: "1" },
    jobs,
  };
}

function _job(group: ExportGroup, options: ExportOptions): Record<string, unknown> {
  const single = group.tasks.length === 1 ? group.tasks[0] : undefined;
  const id = single ? single.id : "${{ matrix.id }}";
  const dir = single ? single.dir : "${{ matrix.dir }}";
  const command = ["deno", "task", "stage", "run", ...stageRunArgs(options.pipelineFile, "$STAGE_ID", options)]
    .map((w) => (w === "$STAGE_ID" ? '"$STAGE_ID"' : w === options.runDir ? '"$RUN_DIR"' : shellWord(w)));
  const setup = options.image ? [] : [
    { uses: "denoland/setup-deno@v2", with: { "deno-version": `v${DENO_VERSION}` } },
    ...(group.gpu ? [] : [{
      name: "Mesa's Vulkan driver (the WebGPU adapter without a GPU)",
      run: "sudo apt-get update -qq && sudo apt-get install -y -qq mesa-vulkan-drivers",
    }]),
  ];
  return {
    ...(group.needs.length ? { needs: group.needs } : {}),
    "runs-on": group.gpu ? ["self-hosted", "linux", "gpu"] : "ubuntu-latest",
    ...(options.image ? { container: { image: options.image } } : {}),
    ...(single ? {} : {
      strategy: { "fail-fast": false, matrix: { include: group.tasks.map((t) => ({ id: t.id, dir: t.dir })) } },
    }),
    steps: [
      { uses: "actions/checkout@v4" },
      ...setup,
      { run: 'mkdir -p "$XDG_RUNTIME_DIR" && deno install --frozen --allow-scripts' },
      ...(group.needs.length
        ? [{
          name: "The outputs of earlier stages",
          uses: "actions/download-artifact@v4",
          with: { pattern: "tailor-stage-*", path: options.runDir, "merge-multiple": true },
        }]
        : []),
      { name: `Run ${id}`, env: { STAGE_ID: id }, run: command.join(" ") },
      {
        uses: "actions/upload-artifact@v4",
        with: {
          name: `tailor-stage-${dir}`,
          path: [`stages/${dir}`, `logs/${dir}.log`, `outcomes/${dir}.json`].map((p) => `${options.runDir}/${p}`)
            .join("\n"),
          "if-no-files-found": "error",
        },
      },
    ],
  };
}
