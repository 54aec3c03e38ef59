// An Argo Workflow: a DAG task per stage instance, each a `deno task stage run` in the tailor image, the run
// directory on a shared volume or in S3, the pipeline text carried in the workflow itself.
import { InputError, quote } from "../../core/errors.ts";
import type { Plan } from "../plan.ts";
import { type ExportOptions, pipelineBaseName, stageRunArgs, workflowGraph } from "./workflow_graph.ts";

/** Where the run directory lives: a ReadWriteMany volume claim, or an S3 prefix copied in and out per task. */
export type ArgoStorage =
  | { kind: "pvc"; claim: string }
  | { kind: "s3"; bucket: string; prefix: string; endpoint: string; secret?: string };

export interface ArgoOptions extends ExportOptions {
  image: string;
  storage: ArgoStorage;
  cpu: string;
  memory: string;
  /** Write a WorkflowTemplate (submitted later with `argo submit --from`) instead of a Workflow. */
  template?: boolean;
}

const APP = "/app";
const PIPELINE_DIR = "/tailor/pipeline";

/** Parse `--storage pvc:NAME` or `--storage s3:BUCKET/PREFIX`. */
export function parseStorage(text: string, s3: { endpoint?: string; secret?: string }): ArgoStorage {
  const pvc = /^pvc:([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (pvc) return { kind: "pvc", claim: pvc[1] };
  const bucket = /^s3:([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/([^\s]+[^\s/])$/.exec(text);
  if (bucket) {
    return {
      kind: "s3",
      bucket: bucket[1],
      prefix: bucket[2],
      endpoint: s3.endpoint ?? "s3.amazonaws.com",
      secret: s3.secret,
    };
  }
  throw new InputError(`Invalid --storage ${quote(text)}: expected pvc:CLAIM or s3:BUCKET/PREFIX`);
}

export function argoWorkflow(plan: Plan, options: ArgoOptions): Record<string, unknown> {
  const graph = workflowGraph(plan, options);
  if (options.pipelineText.includes("{{")) {
    throw new InputError(
      `Cannot export ${quote(plan.file)} to Argo: it contains "{{", which Argo takes for its own templates`,
    );
  }
  const names = new Map<string, string>();
  const used = new Set<string>();
  for (const t of graph.tasks) {
    const base = ("s-" + t.id.toLowerCase()).replace(/[^a-z0-9]+/g, "-").replace(/^s-(?=[a-z])/, "").replace(/-+$/, "")
      .slice(0, 56);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
    used.add(name);
    names.set(t.id, name);
  }
  const tasks = graph.tasks.map((t) => ({
    name: names.get(t.id)!,
    template: t.gpu ? "stage-gpu" : "stage",
    ...(t.deps.length ? { dependencies: t.deps.map((d) => names.get(d)!) } : {}),
    arguments: { parameters: [{ name: "id", value: t.id }, { name: "dir", value: t.dir }] },
  }));
  const templates: Record<string, unknown>[] = [{ name: "pipeline", dag: { tasks } }, _stageTemplate(options, false)];
  if (graph.tasks.some((t) => t.gpu)) templates.push(_stageTemplate(options, true));
  const { storage } = options;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: options.template ? "WorkflowTemplate" : "Workflow",
    metadata: options.template
      ? { name: `tailor-${_dns(plan.name)}` }
      : { generateName: `tailor-${_dns(plan.name)}-`, labels: { "app.kubernetes.io/name": "tailor" } },
    spec: {
      entrypoint: "pipeline",
      // The image runs as its "deno" user (uid 1993): a volume claim's files must be writable by that group.
      securityContext: { fsGroup: 1993 },
      ...(storage.kind === "pvc"
        ? { volumes: [{ name: "runs", persistentVolumeClaim: { claimName: storage.claim } }] }
        : {}),
      templates,
    },
  };
}

function _stageTemplate(options: ArgoOptions, gpu: boolean): Record<string, unknown> {
  const { storage, runDir } = options;
  const pipelinePath = `${PIPELINE_DIR}/${pipelineBaseName(options)}`;
  const run = `${APP}/${runDir}`;
  const dir = "{{inputs.parameters.dir}}";
  const s3 = (key: string) =>
    storage.kind === "s3"
      ? {
        s3: {
          endpoint: storage.endpoint,
          bucket: storage.bucket,
          key: `${storage.prefix}/${key}`,
          ...(storage.secret
            ? {
              accessKeySecret: { name: storage.secret, key: "accessKey" },
              secretKeySecret: { name: storage.secret, key: "secretKey" },
            }
            : { useSDKCreds: true }),
        },
      }
      : {};
  const inputs: Record<string, unknown>[] = [{
    name: "pipeline",
    path: pipelinePath,
    raw: { data: options.pipelineText },
  }];
  if (storage.kind === "s3") inputs.push({ name: "run", path: run, optional: true, ...s3("") });
  const outputs = storage.kind === "s3"
    ? {
      artifacts: [
        { name: "stage", path: `${run}/stages/${dir}`, archive: { none: {} }, ...s3(`stages/${dir}`) },
        { name: "log", path: `${run}/logs/${dir}.log`, archive: { none: {} }, ...s3(`logs/${dir}.log`) },
        { name: "outcome", path: `${run}/outcomes/${dir}.json`, archive: { none: {} }, ...s3(`outcomes/${dir}.json`) },
      ],
    }
    : undefined;
  const env = [
    { name: "XDG_RUNTIME_DIR", value: "/tmp/xdg" },
    { name: "DENO_NO_UPDATE_CHECK", value: "1" },
    ...(gpu ? [{ name: "NVIDIA_DRIVER_CAPABILITIES", value: "compute,utility,graphics" }] : []),
  ];
  return {
    name: gpu ? "stage-gpu" : "stage",
    inputs: { parameters: [{ name: "id" }, { name: "dir" }], artifacts: inputs },
    ...(outputs ? { outputs } : {}),
    // Bad input exits 2: retrying it unchanged cannot help. Everything else may be transient (node lost, OOM).
    retryStrategy: {
      limit: 2,
      retryPolicy: "Always",
      backoff: { duration: "30s", factor: 2 },
      expression: 'lastRetry.status == "Error" || asInt(lastRetry.exitCode) != 2',
    },
    ...(gpu ? { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] } : {}),
    container: {
      name: "main",
      image: options.image,
      workingDir: APP,
      command: ["deno", "task", "stage", "run"],
      args: stageRunArgs(pipelinePath, "{{inputs.parameters.id}}", options),
      env,
      resources: {
        requests: { cpu: options.cpu, memory: options.memory },
        limits: { memory: options.memory, ...(gpu ? { "nvidia.com/gpu": "1" } : {}) },
      },
      ...(storage.kind === "pvc" ? { volumeMounts: [{ name: "runs", mountPath: `${APP}/runs` }] } : {}),
    },
  };
}

function _dns(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "pipeline";
}
