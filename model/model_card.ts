/** The model card `model.json`: preset, configuration, completed loss and its state, categories. */
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
  /** How training went (cards written before it lack it). */
  training?: TrainingSummary;
}

export interface TrainingSummary {
  steps: number;
  /** Each loss term (`total`, `rpn_cls`, ..., `mask`) averaged over the first and the last 10 steps. */
  firstLoss: Record<string, number>;
  lastLoss: Record<string, number>;
  /** Whether the mask head was trained; false when the model has none or no annotation has a mask. */
  masks: boolean;
  /** Non-crowd training annotations without a mask (their RoIs got no mask loss). */
  annotationsWithoutMask: number;
  /** Steps whose batch had no foreground RoI with a mask (mask loss 0). */
  stepsWithoutMask: number;
}

export const MODEL_CARD = "model.json";

/**
 * Write `card` to `dir`/model.json, atomically.
 * @example
 * ```ts
 * await writeModelCard("runs/demo/stages/train", card);
 * ```
 */
export async function writeModelCard(dir: string, card: ModelCard): Promise<void> {
  await writeJsonAtomic(join(dir, MODEL_CARD), card, 1);
}

/** The input size to predict at: the caller's, else the one the model was trained at, else 128 / 1333. */
export function predictionInput(
  card: ModelCard,
  shortSide?: number,
  maxSize?: number,
): { shortSide: number; maxSize: number } {
  return { shortSide: shortSide ?? card.input?.shortSide ?? 128, maxSize: maxSize ?? card.input?.maxSize ?? 1333 };
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
