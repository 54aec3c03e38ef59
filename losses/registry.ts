// Every loss in one list: a new loss is its file and one line in `LOSSES`.
import type { z } from "zod";
import { InputError, quote } from "../core/errors.ts";
import { bags } from "./bags.ts";
import { bce } from "./bce.ts";
import { ce } from "./ce.ts";
import { efl } from "./efl.ts";
import { eql } from "./eql.ts";
import { eqlv2 } from "./eqlv2.ts";
import { federated } from "./federated.ts";
import { focal } from "./focal.ts";
import type { ClassificationLoss } from "./loss.ts";
import type { DatasetStats, LossDefinition } from "./loss_definition.ts";
import { seesaw } from "./seesaw.ts";

export const LOSSES = [bce, ce, focal, eqlv2, eql, seesaw, federated, efl, bags] as const;

type Definitions = (typeof LOSSES)[number];
export type LossName = Definitions["name"];
export type LossParams<N extends LossName> = z.output<Extract<Definitions, { name: N }>["params"]>;

export const lossNames: LossName[] = LOSSES.map((d) => d.name);

export const lossParamSchemas = Object.fromEntries(LOSSES.map((d) => [d.name, d.params])) as {
  [N in LossName]: Extract<Definitions, { name: N }>["params"];
};

/**
 * The definition of loss `name`; an InputError listing the known names otherwise.
 *
 * @example
 * ```ts
 * lossDefinition("eqlv2").params.parse({}).gamma; // 12
 * ```
 */
export function lossDefinition(name: string): LossDefinition {
  const def = LOSSES.find((d) => d.name === name);
  if (!def) throw new InputError(`Unknown loss ${quote(name)}: expected one of ${lossNames.join(", ")}`);
  return def as unknown as LossDefinition;
}

export interface LossParamsProblem {
  path: (string | number)[];
  message: string;
  value: unknown;
}

/**
 * The first problem with raw parameters of loss `name`, or null. For a plan (`forPlan`), keys that the
 * training set supplies are not required yet; with `partial`, no key is.
 */
export function lossParamsProblem(
  name: string,
  raw: unknown,
  opts: { forPlan?: boolean; partial?: boolean } = {},
): LossParamsProblem | null {
  const def = lossDefinition(name);
  const { value, written } = _dealias(def, raw);
  let schema: z.ZodType = def.params;
  if (opts.partial) schema = def.params.partial();
  else if (opts.forPlan && def.fromDataset) {
    schema = def.params.partial(Object.fromEntries(def.fromDataset.keys.map((k) => [k, true])) as never);
  }
  const r = schema.safeParse(value);
  if (r.success) return null;
  const issue = r.error.issues[0];
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    const known = Object.keys(def.params.shape).join(", ");
    return { path: [key], message: `not a parameter of the ${name} loss (expected ${known})`, value: value[key] };
  }
  const [first, ...rest] = issue.path as (string | number)[];
  const path = first === undefined ? [] : [written.get(String(first)) ?? first, ...rest];
  let at: unknown = value;
  for (const part of issue.path) at = (at as Record<PropertyKey, unknown> | undefined)?.[part as PropertyKey];
  return { path, message: issue.message.replace(/^Invalid input: /, ""), value: at };
}

/**
 * Validate raw parameters of loss `name`; throws an InputError naming the key and the value.
 *
 * @example
 * ```ts
 * parseLossParams("eqlv2", { gamma: 12, mu: 0.8, alpha: 4 }).test_with_obj; // true
 * ```
 */
export function parseLossParams<N extends LossName>(name: N, raw: unknown, where = "loss params"): LossParams<N> {
  const problem = lossParamsProblem(name, raw);
  if (problem) {
    throw new InputError(
      `Invalid ${quote(problem.path.join("."))} in ${where} of the ${name} loss: ${problem.message} (got ${
        quote(problem.value)
      })`,
    );
  }
  const def = lossDefinition(name);
  return def.params.parse(_dealias(def, raw).value) as LossParams<N>;
}

/** Raw parameters completed from the training set's statistics where the user gave none (EQL's frequencies). */
export function completeLossParams(
  name: string,
  raw: Record<string, unknown>,
  stats: DatasetStats,
): Record<string, unknown> {
  const hook = lossDefinition(name).fromDataset;
  return hook ? hook.complete({ ...raw }, stats) : { ...raw };
}

/**
 * A GPU loss by registry name; needs `await initTensors()` first; an InputError for an unknown name or bad parameters.
 *
 * @example
 * ```ts
 * const loss = createLoss("eqlv2", { gamma: 12, mu: 0.8, alpha: 4 }, { numClasses: 1203 });
 * ```
 */
export function createLoss(
  name: string,
  params: unknown,
  opts: { numClasses: number; where?: string },
): ClassificationLoss {
  const def = lossDefinition(name);
  const parsed = parseLossParams(name as LossName, params, opts.where);
  return def.create(parsed, validNumClasses(name, opts.numClasses));
}

export function validNumClasses(name: string, numClasses: number): number {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new InputError(
      `Invalid number of classes for the ${name} loss: expected an integer >= 1, got ${quote(numClasses)}`,
    );
  }
  return numClasses;
}

function _dealias(def: LossDefinition, raw: unknown): { value: Record<string, unknown>; written: Map<string, string> } {
  const value: Record<string, unknown> = {}, written = new Map<string, string>();
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    const key = def.aliases?.[k] ?? k;
    if (key !== k) written.set(key, k);
    value[key] = v;
  }
  return { value, written };
}
