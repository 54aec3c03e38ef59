// Expand matrices and shards, substitute variables, link references, order and check, all before anything runs.
import { z } from "zod";
import { InputError, InputErrors, quote } from "../core/errors.ts";
import { inputPathProblems } from "./input_path.ts";
import { type LoadedPipeline, matrixValues } from "./pipeline_file.ts";
import { collectRefs, findRefs, Interpolation, OutputRef } from "./refs.ts";
import type { StageRegistry } from "./registry.ts";
import { probeParams } from "./probe_params.ts";
import { partId } from "./sharding.ts";
import type { StageKind } from "./stage.ts";
import { formatPath, type YamlPath } from "./yaml_source.ts";
import { valueAt, zodIssueMessage } from "./zod_issue.ts";

type Scalar = string | number | boolean;

export interface PlannedStage {
  /** `train`, or `train[loss=bce,seed=1]` for a matrix instance. */
  id: string;
  dir: string;
  template: string;
  kind: StageKind;
  matrix: Record<string, Scalar>;
  /** Parameters, with `OutputRef`/`Interpolation` where they take other stages' outputs. */
  params: unknown;
  deps: string[];
  /** Set on the parts of a sharded stage: which slice this one takes. */
  part?: { index: number; count: number };
}

export interface Plan {
  name: string;
  file: string;
  stages: PlannedStage[];
  byId: Map<string, PlannedStage>;
}

export interface PlanOptions {
  /** Check that files the stages read exist here; a plan for another machine (an export) leaves it off. */
  checkInputs?: boolean;
}

/**
 * Expand, link and check a pipeline; every problem found is reported at once.
 *
 * @example
 * ```ts
 * const plan = planPipeline(parsePipeline("p.yaml", text), defaultRegistry(), { checkInputs: true });
 * plan.stages.map((s) => s.id);
 * ```
 */
export function planPipeline(loaded: LoadedPipeline, registry: StageRegistry, options: PlanOptions = {}): Plan {
  const { spec, source, overrides } = loaded;
  const fail = (path: YamlPath, message: string, key = false): InputError => {
    for (let n = path.length; n > 0; n--) {
      const arg = overrides.get(formatPath(path.slice(0, n)));
      if (arg) return new InputError(`--set ${quote(arg)}: ${message}`);
    }
    return source.error(path, message, key);
  };
  const problems: string[] = [];
  const report = (e: unknown) => {
    if (!(e instanceof InputError)) throw e;
    if (!problems.includes(e.message)) problems.push(e.message);
  };
  const vars = spec.vars ?? {};
  const names = Object.keys(spec.stages);
  const instances = new Map<string, PlannedStage[]>();
  const unchecked = new Set<string>();

  for (const name of names) {
    const stage = spec.stages[name];
    let kind = registry.find(stage.uses);
    if (!kind) {
      report(fail(
        ["stages", name, "uses"],
        `Unknown stage kind ${quote(stage.uses)} (known: ${registry.names().join(", ")})`,
      ));
      kind = _unknownKind(stage.uses);
    }
    const axes = Object.entries(stage.matrix ?? {}).map(([axis, values]): [string, Scalar[]] => {
      if (Array.isArray(values)) return [axis, values];
      try {
        return [axis, _axisFromVar(values, vars, (m) => fail(["stages", name, "matrix", axis], m))];
      } catch (e) {
        report(e);
        return [axis, [values]];
      }
    });
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
      if (!instances.has(need)) report(fail(at, `Unknown stage ${quote(need)} in needs (stages: ${names.join(", ")})`));
    });
    for (const inst of instances.get(name)!) {
      const ctx: _SubstContext = { vars, instances, matching, fail, outputsOf: (t) => _outputKeys(instances, t) };
      try {
        inst.params = _subst(stage.with ?? {}, ["stages", name, "with"], inst.matrix, ctx);
      } catch (e) {
        report(e);
        unchecked.add(inst.id);
      }
      const deps = new Set<string>();
      for (const need of needs) for (const d of instances.has(need) ? matching(need, inst.matrix) : []) deps.add(d.id);
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
  let ordered = all;
  try {
    ordered = _topologicalOrder(all, byId, (cycle) => {
      const first = byId.get(cycle[0])!.template;
      return fail(["stages", first], `Stages form a cycle: ${cycle.join(" -> ")}`, true);
    });
  } catch (e) {
    report(e);
  }

  // Matrix instances usually share a mistake: it is reported once, for the first of them.
  const seen = new Set<string>();
  const once = (at: YamlPath, message: string) => {
    const key = `${formatPath(at)}\u0000${message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  for (const inst of all) {
    if (unchecked.has(inst.id) || inst.kind.kind === _UNKNOWN) continue;
    const where = (rel: (string | number)[]) => ["stages", inst.template, "with", ...rel];
    const suffix = inst.id === inst.template ? "" : ` in ${inst.id}`;
    const probe = probeParams(inst.params, (ref) => byId.get(ref.stageId)!.kind.output);
    const result = inst.kind.params.safeParse(probe);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const rel = issue.path as (string | number)[];
        const keyed = issue.code === "unrecognized_keys";
        const written = valueAt(inst.params, rel);
        const message = zodIssueMessage(
          issue,
          where(rel),
          written instanceof OutputRef ? written.text : valueAt(probe, rel),
        );
        const at = keyed ? [...where(rel), issue.keys[0]] : where(rel);
        if (once(at, message)) report(fail(at, `${message} (stage kind ${quote(inst.kind.kind)}${suffix})`, keyed));
      }
      continue;
    }
    // A stage ordered after another with needs: may read a file that one writes; it is checked when it runs.
    if (!options.checkInputs || spec.stages[inst.template].needs) continue;
    for (const p of inputPathProblems(inst.kind.params, inst.params)) {
      if (once(where(p.path), p.message)) {
        report(fail(where(p.path), `${p.message} (${formatPath(where(p.path))}${suffix})`));
      }
    }
  }
  if (problems.length === 1) throw new InputError(problems[0]);
  if (problems.length > 1) throw new InputErrors(problems);
  return { name: spec.name ?? _baseName(loaded.source.file), file: loaded.source.file, stages: ordered, byId };
}

const _UNKNOWN = "\u0000unknown";

function _unknownKind(name: string): StageKind {
  const any = z.any();
  return {
    kind: _UNKNOWN,
    description: name,
    params: any,
    output: any,
    run: () => Promise.reject(new Error(`unknown stage kind ${name}`)),
  };
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
  if (scope === "vars") return _variable(ctx.vars, name, text, (m) => ctx.fail(path, m));
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

/** A matrix axis given as `${vars.name}`: that variable, which must be a non-empty list of scalars. */
function _axisFromVar(text: string, vars: Record<string, unknown>, fail: (m: string) => InputError): Scalar[] {
  const refs = findRefs(text);
  if (refs.length !== 1 || refs[0].scope !== "vars" || text.trim() !== refs[0].text) {
    throw fail(`Expected a list of values or one \${vars.name}, got ${quote(text)}`);
  }
  const value = _variable(vars, refs[0].name, text, fail);
  if (!matrixValues.safeParse(value).success) {
    throw fail(
      `${quote(text)} must be a non-empty list of strings, numbers or booleans, got ${quote(JSON.stringify(value))}`,
    );
  }
  return value as Scalar[];
}

function _variable(
  vars: Record<string, unknown>,
  name: string,
  text: string,
  fail: (m: string) => InputError,
): unknown {
  if (!(name in vars)) throw fail(`Unknown variable ${quote(text)} (vars: ${_list(vars)})`);
  return vars[name];
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
