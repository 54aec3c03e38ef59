/**
 * Parameter schemas of every loss, keyed by registry name. Keys are
 * snake_case, as in YAML configs and in the official fixtures' `params`
 * (whose `lambda_` and `freq_info` are accepted as aliases).
 */
import { z } from "zod";
import { InputError, quote } from "../core/errors.ts";

const lossWeight = z.number().positive().finite().default(1);
const fraction = z.number().min(0).max(1);

export const lossParamSchemas = {
  bce: z.strictObject({
    loss_weight: lossWeight,
    /** Logits have C+1 columns (label C is a target 1 in column C); false: C columns, background all-zero. */
    background_channel: z.boolean().default(true),
  }),
  ce: z.strictObject({ loss_weight: lossWeight }),
  focal: z.strictObject({
    loss_weight: lossWeight,
    gamma: z.number().min(0).max(20).default(2),
    alpha: fraction.default(0.25),
  }),
  eqlv2: z.strictObject({
    loss_weight: lossWeight,
    gamma: z.number().min(0).max(1000).default(12),
    mu: z.number().finite().default(0.8),
    alpha: z.number().min(0).max(1e6).default(4),
    test_with_obj: z.boolean().default(true),
  }),
  eql: z.strictObject({
    loss_weight: lossWeight,
    lambda: z.number().gt(0).lt(1).default(0.00177),
    /** f_j per category; or give image_counts and num_images. */
    frequencies: z.array(fraction).optional(),
    image_counts: z.array(z.number().int().min(0)).optional(),
    num_images: z.number().int().positive().optional(),
  }),
  seesaw: z.strictObject({
    loss_weight: lossWeight,
    p: z.number().min(0).max(100).default(0.8),
    q: z.number().min(0).max(100).default(2),
    eps: z.number().gt(0).lt(1).default(1e-2),
  }),
  federated: z.strictObject({
    loss_weight: lossWeight,
    image_counts: z.array(z.number().min(0).finite()),
    num_sample_cats: z.number().int().positive().default(50),
    freq_weight_power: z.number().min(0).max(4).default(0.5),
    seed: z.number().int().min(0).default(0),
  }),
  efl: z.strictObject({
    loss_weight: lossWeight,
    gamma_b: z.number().gt(0).max(20).default(2),
    alpha: fraction.default(0.25),
    s: z.number().min(0).max(100).default(8),
  }),
};

export type LossName = keyof typeof lossParamSchemas;
export type LossParams<N extends LossName> = z.output<(typeof lossParamSchemas)[N]>;
export type LossParamsInput<N extends LossName> = z.input<(typeof lossParamSchemas)[N]>;

export const lossNames = Object.keys(lossParamSchemas) as LossName[];

const aliases: Record<string, string> = { lambda_: "lambda", freq_info: "frequencies" };

/**
 * Validate raw parameters of loss `name`; throws an InputError naming the
 * key and the value.
 *
 * @example
 * ```ts
 * parseLossParams("eqlv2", { gamma: 12, mu: 0.8, alpha: 4 }).test_with_obj; // true
 * ```
 */
export function parseLossParams<N extends LossName>(name: N, raw: unknown, where = "loss params"): LossParams<N> {
  const schema = lossParamSchemas[name];
  if (!schema) throw new InputError(`Unknown loss ${quote(name)}: expected one of ${lossNames.join(", ")}`);
  const obj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) obj[aliases[k] ?? k] = v;
  const r = schema.safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.join(".");
    const detail = issue.message.replace(/^Invalid input: /, "");
    throw new InputError(
      `Invalid ${quote(key)} in ${where} of the ${name} loss: ${detail} (got ${quote(obj[String(issue.path[0])])})`,
    );
  }
  return r.data as LossParams<N>;
}
