/**
 * Turn a loaded pipeline into a plan: matrix stages expanded into instances,
 * sharded stages into parts and a merge, variables substituted, stage references linked, dependencies ordered, and
 * every instance's parameters checked against its kind's schema, all before
 * anything runs. Errors name the file, line and column.
 */
import type { z } from "zod";
import { InputError, quote } from "../core/errors.ts";
import type { LoadedPipeline } from "./pipeline_file.ts";
import { collectRefs, findRefs, Interpolation, OutputRef } from "./refs.ts";
import type { StageRegistry } from "./registry.ts";
import { probeParams } from "./probe_params.ts";
import { partId } from "./sharding.ts";
import type { StageKind } from "./stage.ts";
import { formatPath, type YamlPath } from "./yaml_source.ts";
import { valueAt, zodIssueMessage } from "./zod_issue.ts";

type Scalar = string | number | boolean;

/** One stage instance to run. */
export interface PlannedStage {
  /** `train`, or `train[loss=bce,seed=1]` for a matrix instance. */
  id: string;
  /** Folder name under the run's `stages/`. */
  dir: string;
  /** The stage's name in the file. */
  template: string;
  kind: StageKind;
  matrix: Record<string, Scalar>;
  /** Parameters, with `OutputRef`/`Interpolation` where they take other stages' outputs. */
  params: unknown;
  /** Ids of the instances this one waits for. */
  deps: string[];
  /** Set on the parts of a sharded stage: which slice this one takes. */
  part?: { index: number; count: number };
}

/** A checked, ordered pipeline. */
export interface Plan {
  name: string;
  file: string;
  /** In an order where every stage comes after its dependencies. */
  stages: PlannedStage[];
  byId: Map<string, PlannedStage>;
}

/**
 * Expand, link and check a pipeline.
 *
 * @example
 * ```ts
 * const plan = planPipeline(parsePipeline("p.yaml", text), defaultRegistry());
 * plan.stages.map((s) => s.id);
 * ```
 */
export function planPipeline(loaded: LoadedPipeline, registry: StageRegistry): Plan {
  const { spec, source, overrides } = loaded;
  const fail = (path: YamlPath, message: string, key = false): InputError => {
    for (let n = path.length; n > 0; n--) {
      const arg = overrides.get(formatPath(path.slice(0, n)));
      if (arg) return new InputError(`--set ${quote(arg)}: ${message}`);
    }
    return source.error(path, message, key);
  };
  const vars = spec.vars ?? {};
  const names = Object.keys(spec.stages);
  const instances = new Map<string, PlannedStage[]>();

  for (const name of names) {
    const stage = spec.stages[name];
    const kind = registry.find(stage.uses);
    if (!kind) {
      throw fail(
        ["stages", name, "uses"],
        `Unknown stage kind ${quote(stage.uses)} (known: ${registry.names().join(", ")})`,
      );
    }
    const axes = Object.entries(stage.matrix ?? {});
    // A sharded stage's instances are its merges: what references and $each see.
    const shown = stage.shards === undefined
      ? kind
      : _shardKinds(kind, registry, (m) => fail(["stages", name, "shards"], m)).merge;
    instances.set(name, _combinations(axes).map((matrix) => _instance(name, shown, matrix)));
  }
  const partsOf = new Map<PlannedStage, PlannedStage[]>();

  const matching = (target: string, matrix: Record<string, Scalar>) =>
    instances.get(target)!.filter((inst) =>
      Object.entries(inst.matrix).every(([axis, v]) => !(axis in matrix) || matrix[axis] === v)
    );

  for (const name of names) {
    const stage = spec.stages[name];
    const needs = typeof stage.needs === "string" ? [stage.needs] : stage.needs ?? [];
    needs.forEach((need, i) => {
      const at = typeof stage.needs === "string" ? ["stages", name, "needs"] : ["stages", name, "needs", i];
      if (!instances.has(need)) throw fail(at, `Unknown stage ${quote(need)} in needs (stages: ${names.join(", ")})`);
    });
    for (const inst of instances.get(name)!) {
      const ctx: _SubstContext = { vars, instances, matching, fail, outputsOf: (t) => _outputKeys(instances, t) };
      inst.params = _subst(stage.with ?? {}, ["stages", name, "with"], inst.matrix, ctx);
      const deps = new Set<string>();
      for (const need of needs) for (const d of matching(need, inst.matrix)) deps.add(d.id);
      for (const ref of collectRefs(inst.params)) deps.add(ref.stageId);
      inst.deps = [...deps];
      if (stage.shards !== undefined) {
        const { part } = _shardKinds(registry.get(stage.uses), registry, (m) => fail(["stages", name, "shards"], m));
        partsOf.set(inst, _expandShards(inst, stage.shards, part));
      }
    }
  }

  const all = names.flatMap((n) => instances.get(n)!.flatMap((inst) => [...partsOf.get(inst) ?? [], inst]));
  const byId = new Map(all.map((s) => [s.id, s]));
  const ordered = _topologicalOrder(all, byId, (cycle) => {
    const first = byId.get(cycle[0])!.template;
    return fail(["stages", first], `Stages form a cycle: ${cycle.join(" -> ")}`, true);
  });

  for (const inst of all) {
    const probe = probeParams(inst.params, (ref) => byId.get(ref.stageId)!.kind.output);
    const result = inst.kind.params.safeParse(probe);
    if (!result.success) {
      const issue = result.error.issues[0];
      const rel = issue.path as (string | number)[];
      const path = ["stages", inst.template, "with", ...rel];
      const keyed = issue.code === "unrecognized_keys";
      const written = valueAt(inst.params, rel);
      const message = zodIssueMessage(issue, path, written instanceof OutputRef ? written.text : valueAt(probe, rel));
      const where = keyed ? [...path, issue.keys[0]] : path;
      const suffix = inst.id === inst.template ? "" : ` in ${inst.id}`;
      throw fail(where, `${message} (stage kind ${quote(inst.kind.kind)}${suffix})`, keyed);
    }
  }
  return { name: spec.name ?? _baseName(loaded.source.file), file: loaded.source.file, stages: ordered, byId };
}

interface _SubstContext {
  vars: Record<string, unknown>;
  instances: Map<string, PlannedStage[]>;
  matching(target: string, matrix: Record<string, Scalar>): PlannedStage[];
  fail(path: YamlPath, message: string, key?: boolean): InputError;
  outputsOf(template: string): string[] | undefined;
}

function _subst(value: unknown, path: YamlPath, matrix: Record<string, Scalar>, ctx: _SubstContext): unknown {
  if (typeof value === "string") return _substString(value, path, matrix, ctx);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    value.forEach((item, i) => {
      if (item && typeof item === "object" && !Array.isArray(item) && "$each" in item) {
        out.push(..._expandEach(item as Record<string, unknown>, [...path, i], matrix, ctx));
      } else out.push(_subst(item, [...path, i], matrix, ctx));
    });
    return out;
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, _subst(v, [...path, k], matrix, ctx)]));
  }
  return value;
}

function _expandEach(
  item: Record<string, unknown>,
  path: YamlPath,
  matrix: Record<string, Scalar>,
  ctx: _SubstContext,
): unknown[] {
  const extra = Object.keys(item).find((k) => k !== "$each" && k !== "$item");
  if (extra) throw ctx.fail([...path, extra], `Unknown key ${quote(extra)} beside $each (expected $item)`, true);
  const target = item.$each;
  if (typeof target !== "string" || !ctx.instances.has(target)) {
    throw ctx.fail([...path, "$each"], `Unknown stage ${quote(target)} in $each`);
  }
  if (!("$item" in item)) throw ctx.fail([...path, "$each"], `Missing $item beside $each`, true);
  return ctx.matching(target, matrix).map((inst) =>
    _subst(item.$item, [...path, "$item"], { ...matrix, ...inst.matrix }, ctx)
  );
}

function _substString(text: string, path: YamlPath, matrix: Record<string, Scalar>, ctx: _SubstContext): unknown {
  const refs = findRefs(text);
  if (refs.length === 0) return text;
  const parts: (string | OutputRef | unknown)[] = [];
  let last = 0;
  for (const ref of refs) {
    parts.push(text.slice(last, ref.start));
    parts.push(_resolveToken(ref.scope, ref.name, ref.text, path, matrix, ctx));
    last = ref.end;
  }
  parts.push(text.slice(last));
  const meaningful = parts.filter((p) => p !== "");
  if (meaningful.length === 1 && refs.length === 1) return meaningful[0];
  if (!parts.some((p) => p instanceof OutputRef)) return parts.map((p) => _text(p)).join("");
  return new Interpolation(parts.map((p) => (p instanceof OutputRef ? p : _text(p))).filter((p) => p !== ""));
}

function _resolveToken(
  scope: string,
  name: string,
  text: string,
  path: YamlPath,
  matrix: Record<string, Scalar>,
  ctx: _SubstContext,
): unknown {
  if (scope === "vars") {
    if (!(name in ctx.vars)) throw ctx.fail(path, `Unknown variable ${quote(text)} (vars: ${_list(ctx.vars)})`);
    return ctx.vars[name];
  }
  if (scope === "matrix") {
    if (!(name in matrix)) throw ctx.fail(path, `Unknown matrix axis ${quote(text)} (axes here: ${_list(matrix)})`);
    return matrix[name];
  }
  if (!ctx.instances.has(scope)) {
    throw ctx.fail(path, `Unknown stage ${quote(scope)} in ${quote(text)} (stages: ${[...ctx.instances.keys()]})`);
  }
  const outputs = ctx.outputsOf(scope);
  if (outputs && !outputs.includes(name)) {
    throw ctx.fail(path, `Stage ${quote(scope)} has no output ${quote(name)} (outputs: ${outputs.join(", ")})`);
  }
  const found = ctx.matching(scope, matrix);
  if (found.length !== 1) {
    throw ctx.fail(
      path,
      `Reference ${quote(text)} matches ${found.length} instances of ${quote(scope)}; ` +
        `list them with $each or give the stage the same matrix`,
    );
  }
  return new OutputRef(found[0].id, name, text);
}

function _outputKeys(instances: Map<string, PlannedStage[]>, template: string): string[] | undefined {
  const schema = instances.get(template)![0].kind.output as z.ZodType & { shape?: Record<string, unknown> };
  return schema.shape ? Object.keys(schema.shape) : undefined;
}

function _shardKinds(
  kind: StageKind,
  registry: StageRegistry,
  fail: (message: string) => InputError,
): { part: StageKind; merge: StageKind } {
  if (!kind.sharding) {
    const can = registry.names().filter((n) => registry.find(n)!.sharding);
    throw fail(`Stage kind ${quote(kind.kind)} cannot run in shards (kinds that can: ${can.join(", ") || "none"})`);
  }
  return { part: registry.get(kind.sharding.part), merge: registry.get(kind.sharding.merge) };
}

/** Make `merge` (parameters substituted) the merge of `count` new instances of `part`, which it returns. */
function _expandShards(merge: PlannedStage, count: number, part: StageKind): PlannedStage[] {
  const parts: PlannedStage[] = Array.from({ length: count }, (_, index) => ({
    id: partId(merge.id, index, count),
    dir: partId(merge.dir, index, count),
    template: merge.template,
    kind: part,
    matrix: merge.matrix,
    params: { ...(merge.params as Record<string, unknown>), shard: { index, count } },
    deps: [...merge.deps],
    part: { index, count },
  }));
  const refs = parts.map((p) => new OutputRef(p.id, "part", `\${${p.id}.part}`));
  merge.params = { ...(merge.params as Record<string, unknown>), parts: refs };
  merge.deps = [...merge.deps, ...parts.map((p) => p.id)];
  return parts;
}

function _instance(template: string, kind: StageKind, matrix: Record<string, Scalar>): PlannedStage {
  const entries = Object.entries(matrix);
  const id = entries.length ? `${template}[${entries.map(([k, v]) => `${k}=${v}`).join(",")}]` : template;
  const dir = [template, ...entries.map(([k, v]) => `${k}=${v}`)].join("@").replace(/[^A-Za-z0-9._=@-]/g, "_");
  return { id, dir, template, kind, matrix, params: {}, deps: [] };
}

function _combinations(axes: [string, Scalar[]][]): Record<string, Scalar>[] {
  let combos: Record<string, Scalar>[] = [{}];
  for (const [axis, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [axis]: v })));
  return combos;
}

function _topologicalOrder(
  all: PlannedStage[],
  byId: Map<string, PlannedStage>,
  cycleError: (cycle: string[]) => Error,
): PlannedStage[] {
  const state = new Map<string, "visiting" | "done">();
  const out: PlannedStage[] = [];
  const visit = (s: PlannedStage, trail: string[]) => {
    if (state.get(s.id) === "done") return;
    if (state.get(s.id) === "visiting") throw cycleError([...trail.slice(trail.indexOf(s.id)), s.id]);
    state.set(s.id, "visiting");
    for (const d of s.deps) visit(byId.get(d)!, [...trail, s.id]);
    state.set(s.id, "done");
    out.push(s);
  };
  for (const s of all) visit(s, []);
  return out;
}

function _text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function _list(record: Record<string, unknown>): string {
  return Object.keys(record).join(", ") || "none";
}

function _baseName(file: string): string {
  return file.replace(/^.*\//, "").replace(/\.ya?ml$/, "").replace(/[^A-Za-z0-9_-]/g, "_");
}
