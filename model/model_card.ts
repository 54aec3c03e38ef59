/**
 * The model card: what rebuilds a trained detector without its training
 * set (preset and configuration, the loss with its completed parameters and
 * state, the categories), written as `model.json` beside the weights.
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import type { DetectorConfig } from "./config.ts";

export interface ModelCard {
  preset: string;
  config: DetectorConfig;
  loss: string;
  /** As completed from the training set (EQL's frequencies, the federated image counts). */
  lossParams: Record<string, unknown>;
  numClasses: number;
  /** The dataset's id of each category index. */
  categoryIds: number[];
  /** The dataset's name of each category index, for drawings (cards written before it lack it). */
  categoryNames?: string[];
  /** The training images' shorter side and longest side, the size to detect at. */
  input?: { shortSide: number; maxSize: number };
  /** The loss's `state()` at the end of training. */
  lossState: unknown;
}

/** The card's file in a model folder. */
export const MODEL_CARD = "model.json";

/**
 * Write `card` to `dir`/model.json, atomically.
 *
 * @example
 * ```ts
 * await writeModelCard("runs/demo/stages/train", card);
 * ```
 */
export async function writeModelCard(dir: string, card: ModelCard): Promise<void> {
  await writeJsonAtomic(join(dir, MODEL_CARD), card, 1);
}

/** The card of the model in `dir`; an InputError naming the file if it cannot be read. */
export async function readModelCard(dir: string): Promise<ModelCard> {
  const path = join(dir, MODEL_CARD);
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new InputError(`Cannot read "${path}": ${(e as Error).message}`);
  }
}
