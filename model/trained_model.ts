/** A trained detector ready for inference, from a train stage's folder. */
import { join } from "node:path";
import { Rng } from "../core/rng.ts";
import type { ClassificationLoss, LossState } from "../losses/loss.ts";
import { createLoss } from "../losses/registry.ts";
import { DetectorConfig } from "./config.ts";
import { Detector } from "./detector.ts";
import { type ModelCard, readModelCard } from "./model_card.ts";
import { readSafetensors } from "./checkpoint/safetensors.ts";
import { loadWeights } from "./trainer.ts";

/** The weights' file in a model folder. */
export const MODEL_WEIGHTS = "weights.safetensors";

export interface TrainedModel {
  card: ModelCard;
  /** The card's configuration with the test-time overrides applied. */
  config: DetectorConfig;
  detector: Detector;
  loss: ClassificationLoss;
  /** Release the detector's parameters and the loss. */
  dispose(): void;
}

/**
 * Load the model in `dir` (model.json and weights.safetensors), with the test-time
 * settings given in `test` overriding the card's; needs `await initTensors()` first.
 *
 * @example
 * ```ts
 * const model = await loadTrainedModel("runs/demo/stages/train@loss=eqlv2", { test: { scoreThreshold: 0.05 } });
 * const dets = await model.detector.predict(batch, model.loss);
 * model.dispose();
 * ```
 */
export async function loadTrainedModel(
  dir: string,
  opts: { test?: Partial<DetectorConfig["test"]> } = {},
): Promise<TrainedModel> {
  const card = await readModelCard(dir);
  const overrides = Object.entries(opts.test ?? {}).filter(([, v]) => v !== undefined);
  const config = DetectorConfig.parse({
    ...card.config,
    test: { ...card.config.test, ...Object.fromEntries(overrides) },
  });
  const loss = createLoss(card.loss, card.lossParams, { numClasses: card.numClasses });
  loss.loadState(card.lossState as LossState);
  const detector = new Detector(config, card.numClasses, loss.columns, new Rng(1));
  detector.build();
  const weightsPath = join(dir, MODEL_WEIGHTS);
  loadWeights(detector, (await readSafetensors(weightsPath)).tensors, { source: weightsPath, strict: true });
  return {
    card,
    config,
    detector,
    loss,
    dispose() {
      loss.dispose();
      detector.params.dispose();
    },
  };
}
