import type { ReferenceLoss } from "./loss.ts";
import { lossDefinition, type LossName, parseLossParams, validNumClasses } from "./registry.ts";

/**
 * The float64 reference of loss `name`, with the GPU loss's parameters and sampling sequence.
 *
 * @example
 * ```ts
 * const ref = createReferenceLoss("eqlv2", {}, { numClasses: 8 });
 * const { loss, grad } = ref.step({ logits, labels });
 * ```
 */
export function createReferenceLoss(name: string, raw: unknown, opts: { numClasses: number }): ReferenceLoss {
  const def = lossDefinition(name);
  return def.reference(parseLossParams(name as LossName, raw), validNumClasses(name, opts.numClasses));
}
