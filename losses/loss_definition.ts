import { z } from "zod";
import type { ClassificationLoss, ReferenceLoss } from "./loss.ts";

export interface DatasetStats {
  imageCounts: number[];
  instanceCounts: number[];
  annotatedImages: number;
}

export interface DatasetHook {
  /** The keys `complete` may fill: a plan, which has no dataset yet, does not require them. */
  keys: readonly string[];
  complete(params: Record<string, unknown>, stats: DatasetStats): Record<string, unknown>;
}

export interface LossDefinition<N extends string = string, S extends z.ZodObject = z.ZodObject> {
  /** The registry name, as in YAML `loss:` and in checkpoints. */
  readonly name: N;
  /** Parameter schema with defaults; strict, snake_case keys as in the official implementations. */
  readonly params: S;
  /** Other spellings accepted for keys (e.g. the official fixtures' `lambda_`). */
  readonly aliases?: Readonly<Record<string, string>>;
  readonly fromDataset?: DatasetHook;
  create(params: z.output<S>, numClasses: number): ClassificationLoss;
  reference(params: z.output<S>, numClasses: number): ReferenceLoss;
}

/**
 * Define a loss; the identity, for inference of its name and parameter types.
 *
 * @example
 * ```ts
 * export const bce = defineLoss({
 *   name: "bce",
 *   params: z.strictObject({ loss_weight: lossWeight }),
 *   create: (p, c) => new SigmoidLoss(bceRule(p, c)),
 *   reference: (p, c) => sigmoidReference(bceRule(p, c)),
 * });
 * ```
 */
export function defineLoss<N extends string, S extends z.ZodObject>(def: LossDefinition<N, S>): LossDefinition<N, S> {
  return def;
}

/** `loss_weight`, which every loss takes: a factor on the loss and its gradient. */
export const lossWeight = z.number().positive().finite().default(1);

export const fraction = z.number().min(0).max(1);
