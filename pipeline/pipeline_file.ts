// The shape of a pipeline YAML file; structural errors name the line and column.
import { z } from "zod";
import { parse as parseYaml } from "yaml";
import { InputError, InputErrors, quote } from "../core/errors.ts";
import { formatPath, YamlSource } from "./yaml_source.ts";
import { valueAt, zodIssueMessage } from "./zod_issue.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const scalar = z.union([z.string(), z.number(), z.boolean()]);
/** A matrix axis's values. */
export const matrixValues = z.array(scalar).min(1);

const stageSchema = z.strictObject({
  uses: z.string(),
  description: z.string().optional(),
  needs: z.union([z.string(), z.array(z.string())]).optional(),
  /** An axis lists its values, or names a variable that does (`loss: ${vars.losses}`). */
  matrix: z.record(
    z.string().regex(NAME, "expected a matrix axis name like loss or seed"),
    z.union([matrixValues, z.string()]),
  ).optional(),
  /** Parts run in parallel, then merged (kinds with `sharding` only). */
  shards: z.int().min(1).optional(),
  with: z.record(z.string(), z.unknown()).optional(),
});

const pipelineSchema = z.strictObject({
  name: z.string().regex(NAME, "expected a name of letters, digits, _ and -").optional(),
  description: z.string().optional(),
  vars: z.record(z.string().regex(NAME, "expected a variable name"), z.unknown()).optional(),
  stages: z.record(z.string().regex(NAME, "expected a stage name of letters, digits, _ and -"), stageSchema)
    .refine((s) => Object.keys(s).length > 0, "expected at least one stage"),
});

export type StageSpec = z.infer<typeof stageSchema>;
export type PipelineSpec = z.infer<typeof pipelineSchema>;

export interface LoadedPipeline {
  spec: PipelineSpec;
  source: YamlSource;
  /** `--set` arguments by the formatted path they replaced, so errors there name the argument. */
  overrides: Map<string, string>;
  text: string;
}

/** Parse pipeline text and apply `--set` overrides (`train.lr=0.1` for `stages.train.with.lr`); values are YAML. */
export function parsePipeline(file: string, text: string, sets: readonly string[] = []): LoadedPipeline {
  const source = new YamlSource(file, text);
  const raw = structuredClone(source.value) as Record<string, unknown>;
  const overrides = new Map<string, string>();
  for (const arg of sets) {
    const path = _applySet(raw, arg);
    overrides.set(formatPath(path), arg);
  }
  const parsed = pipelineSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path as (string | number)[];
      const overridden = overrides.get(formatPath(path));
      const message = zodIssueMessage(issue, path, valueAt(raw, path));
      if (overridden) return `--set ${quote(overridden)}: ${message}`;
      return source.error(issue.code === "unrecognized_keys" ? [...path, issue.keys[0]] : path, message, true).message;
    });
    throw problems.length === 1 ? new InputError(problems[0]) : new InputErrors(problems);
  }
  return { spec: parsed.data, source, overrides, text };
}

/** Read and parse a pipeline file. */
export async function loadPipeline(file: string, sets: readonly string[] = []): Promise<LoadedPipeline> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new InputError(`Cannot read pipeline ${quote(file)}: ${(e as Error).message}`);
  }
  return parsePipeline(file, text, sets);
}

function _applySet(raw: Record<string, unknown>, arg: string): (string | number)[] {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new InputError(`Cannot use --set ${quote(arg)}: expected name.key=value`);
  const keys = arg.slice(0, eq).split(".");
  let value: unknown;
  try {
    value = parseYaml(arg.slice(eq + 1));
  } catch {
    value = arg.slice(eq + 1);
  }
  let path: (string | number)[];
  if (keys[0] === "vars") path = keys;
  else {
    const stages = raw.stages as Record<string, unknown> | undefined;
    if (!stages || typeof stages !== "object" || !(keys[0] in stages)) {
      const known = Object.keys(stages ?? {}).join(", ");
      throw new InputError(`Cannot use --set ${quote(arg)}: no stage ${quote(keys[0])} (stages: ${known})`);
    }
    const explicit = ["with", "matrix", "needs", "uses", "shards"].includes(keys[1]);
    path = ["stages", keys[0], ...(explicit ? [] : ["with"]), ...keys.slice(1)];
  }
  if (path.length < 2) throw new InputError(`Cannot use --set ${quote(arg)}: expected name.key=value`);
  let node = raw as Record<string, unknown>;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined || node[key] === null) node[key] = {};
    if (typeof node[key] !== "object") {
      throw new InputError(`Cannot use --set ${quote(arg)}: ${quote(key)} is not a mapping`);
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
  return path;
}
