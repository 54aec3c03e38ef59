/**
 * Build a loss by name from raw (YAML / fixture) parameters: the one entry
 * point the detector and the training task use.
 */
import { InputError, quote } from "../core/errors.ts";
import type { ClassificationLoss } from "./loss.ts";
import { type LossName, lossNames, type LossParams, parseLossParams } from "./params.ts";
import { SigmoidLoss } from "./sigmoid_loss.ts";
import { SoftmaxLoss } from "./softmax_loss.ts";

const builders: { [N in LossName]: (p: LossParams<N>, numClasses: number) => ClassificationLoss } = {
  bce: (p, c) => new SigmoidLoss("bce", p, c),
  eqlv2: (p, c) => new SigmoidLoss("eqlv2", p, c),
  eql: (p, c) => new SigmoidLoss("eql", p, c),
  focal: (p, c) => new SigmoidLoss("focal", p, c),
  efl: (p, c) => new SigmoidLoss("efl", p, c),
  federated: (p, c) => new SigmoidLoss("federated", p, c),
  ce: (p, c) => new SoftmaxLoss("ce", p, c),
  seesaw: (p, c) => new SoftmaxLoss("seesaw", p, c),
};

/**
 * A GPU loss by registry name (bce, ce, focal, eql, eqlv2, seesaw, federated,
 * efl); needs `await initTensors()` first. Throws an InputError for an
 * unknown name or invalid parameters.
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
  if (!(lossNames as string[]).includes(name)) {
    throw new InputError(`Unknown loss ${quote(name)}: expected one of ${lossNames.join(", ")}`);
  }
  const n = name as LossName;
  const parsed = parseLossParams(n, params, opts.where);
  return (builders[n] as (p: unknown, c: number) => ClassificationLoss)(parsed, opts.numClasses);
}
