/**
 * tau-normalised classifier (Kang et al., ICLR 2020): each category's w_j is divided by ||w_j||^tau,
 * training-free; tau = 0 leaves it as is, tau = 1 makes every vector unit length.
 */
import { InputError, quote } from "../../core/errors.ts";

/** The weight layout of a linear classifier: row-major [inDim, columns], the first `numClasses` columns categories. */
export interface ClassifierShape {
  inDim: number;
  columns: number;
  /** C: columns 0 .. C - 1 are categories; later ones (background, objectness, "others") are left alone. */
  numClasses: number;
}

export const TAU_RANGE = [0, 2] as const;

/**
 * `weight` with each category column divided by its L2 norm ^ `tau` (biases alone, zero columns stay
 * zero). InputError for tau outside [0, 2].
 *
 * @example
 * ```ts
 * const w = tauNormalize(Float32Array.from([3, 1, 4, 1]), { inDim: 2, columns: 2, numClasses: 2 }, 1);
 * // columns (3, 4) and (1, 1) become (0.6, 0.8) and (0.707, 0.707)
 * ```
 */
export function tauNormalize(weight: ArrayLike<number>, shape: ClassifierShape, tau: number): Float32Array {
  if (!(tau >= TAU_RANGE[0] && tau <= TAU_RANGE[1])) {
    throw new InputError(`Invalid tau for tau-normalisation: expected a number in [0, 2], got ${quote(tau)}`);
  }
  const { inDim, columns, numClasses } = shape;
  if (weight.length !== inDim * columns || numClasses > columns) {
    throw new InputError(
      `Invalid classifier for tau-normalisation: expected [${inDim}, ${columns}] weights with at most ${columns} ` +
        `categories, got ${weight.length} values and ${numClasses} categories`,
    );
  }
  const out = Float32Array.from(weight);
  for (let j = 0; j < numClasses; j++) {
    let sq = 0;
    for (let d = 0; d < inDim; d++) sq += weight[d * columns + j] ** 2;
    if (sq === 0) continue;
    const f = Math.pow(Math.sqrt(sq), -tau);
    for (let d = 0; d < inDim; d++) out[d * columns + j] = weight[d * columns + j] * f;
  }
  return out;
}
