/**
 * What the sigmoid-family losses (bce, eqlv2, eql, focal, efl, federated)
 * need to know, derived once from validated parameters; shared by the
 * float64 reference and the fused kernel so both read the same numbers.
 */
import { InputError, quote } from "../core/errors.ts";
import type { LossParams } from "./params.ts";

export type SigmoidKind = "bce" | "eqlv2" | "eql" | "focal" | "efl" | "federated";

export interface SigmoidConfig {
  kind: SigmoidKind;
  /** C, the number of foreground categories. */
  numClasses: number;
  /** Logit columns: C + 1 with a background channel, else C. */
  columns: number;
  lossWeight: number;
  /** EQL v2 mapping f(x) = 1 / (1 + exp(-gamma (x - mu))) and alpha; focal/EFL gamma (gamma_b) and alpha. */
  gamma: number;
  mu: number;
  alpha: number;
  /** EFL focusing scale s. */
  s: number;
  /** EQL v1 T_j (1 = rare: negatives of foreground rows ignored). */
  rare: Float64Array | null;
  /** Initial ratio_j: 100 for EQL v2, g_j = 1 for EFL, else 0 (unused). */
  initialRatio: number;
  /** Scores s_j = sigma(x_j) (1 - sigma(x_C)) (EQL v2 test_with_obj). */
  scoresWithObj: boolean;
}

/** The EQL v1 threshold T_j: 1 where f_j < lambda, compared in float32 as the reference does. */
export function eqlRareMask(params: LossParams<"eql">, numClasses: number): Float64Array {
  let freq = params.frequencies;
  if (!freq) {
    const { image_counts: counts, num_images: images } = params;
    if (!counts || !images) {
      throw new InputError(`The eql loss needs "frequencies" or "image_counts" with "num_images", got neither`);
    }
    freq = counts.map((c) => c / images);
  }
  if (freq.length !== numClasses) {
    throw new InputError(`Invalid "frequencies" of the eql loss: expected ${numClasses} values, got ${freq.length}`);
  }
  const lambda = Math.fround(params.lambda);
  return Float64Array.from(freq, (f) => Math.fround(f) < lambda ? 1 : 0);
}

/** Build the config of a sigmoid-family loss. */
export function sigmoidConfig(
  kind: SigmoidKind,
  params: LossParams<SigmoidKind>,
  numClasses: number,
): SigmoidConfig {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new InputError(
      `Invalid number of classes for the ${kind} loss: expected an integer >= 1, got ${quote(numClasses)}`,
    );
  }
  const base: SigmoidConfig = {
    kind,
    numClasses,
    columns: numClasses,
    lossWeight: params.loss_weight,
    gamma: 0,
    mu: 0,
    alpha: 0,
    s: 0,
    rare: null,
    initialRatio: 0,
    scoresWithObj: false,
  };
  switch (kind) {
    case "bce": {
      const p = params as LossParams<"bce">;
      return { ...base, columns: p.background_channel ? numClasses + 1 : numClasses };
    }
    case "eqlv2": {
      const p = params as LossParams<"eqlv2">;
      return {
        ...base,
        columns: numClasses + 1,
        gamma: p.gamma,
        mu: p.mu,
        alpha: p.alpha,
        initialRatio: 100,
        scoresWithObj: p.test_with_obj,
      };
    }
    case "eql":
      return { ...base, rare: eqlRareMask(params as LossParams<"eql">, numClasses) };
    case "focal": {
      const p = params as LossParams<"focal">;
      return { ...base, gamma: p.gamma, alpha: p.alpha };
    }
    case "efl": {
      const p = params as LossParams<"efl">;
      return { ...base, gamma: p.gamma_b, alpha: p.alpha, s: p.s, initialRatio: 1 };
    }
    case "federated": {
      const p = params as LossParams<"federated">;
      if (p.image_counts.length !== numClasses) {
        throw new InputError(
          `Invalid "image_counts" of the federated loss: expected ${numClasses} values, got ${p.image_counts.length}`,
        );
      }
      return { ...base, columns: numClasses + 1 };
    }
  }
}
