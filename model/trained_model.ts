/** A trained detector ready for inference, from a train stage's folder. */
import { join } from "node:path";
import { Rng } from "../core/rng.ts";
import type { ClassificationLoss, LossState } from "../losses/loss.ts";
import { createLoss } from "../losses/registry.ts";
import { InputError } from "../core/errors.ts";
import { loadCheckpointInto } from "./checkpoint/load.ts";
import { DetectorConfig, detectorConfig } from "./config.ts";
import { Detector } from "./detector.ts";
import { type ModelCard, readModelCard } from "./model_card.ts";
import { readSafetensors } from "./checkpoint/safetensors.ts";
import { loadWeights } from "./trainer.ts";

export const MODEL_WEIGHTS = "weights.safetensors";

export interface TrainedModel {
  card: ModelCard;
  /** The card's configuration with the test-time overrides applied. */
  config: DetectorConfig;
  detector: Detector;
  loss: ClassificationLoss;
  dispose(): void;
}

/**
 * Load the model in `dir` (model.json, weights.safetensors), `test` overriding the card's test-time
 * settings; needs `await initTensors()` first.
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
  const detector = new Detector(config, card.numClasses, loss.columns, new Rng(1), 0.001, { loss: card.loss });
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

export interface WeightsModelOptions {
  /** A `.pth` or safetensors file (torchvision, mmdetection, or tailor's own names). */
  weights: string;
  /** A preset of `model/config.ts` whose parameters the file holds. */
  preset: string;
  /** Foreground classes of the file's classifier. */
  numClasses: number;
  /** The loss whose test-time scores turn logits into probabilities: `ce` (softmax) for torchvision's heads. */
  loss?: string;
  test?: Partial<DetectorConfig["test"]>;
  log?: (line: string) => void;
}

/**
 * A `preset` detector from a weights file without a card (category ids 1..numClasses); needs
 * `initTensors()`. Another class count is refused: its class rows would be random.
 */
export async function loadWeightsModel(o: WeightsModelOptions): Promise<TrainedModel> {
  const lossName = o.loss ?? "ce";
  const base = detectorConfig(o.preset);
  const test = Object.fromEntries(Object.entries(o.test ?? {}).filter(([, v]) => v !== undefined));
  const config = DetectorConfig.parse({ ...base, test: { ...base.test, ...test } });
  const loss = createLoss(lossName, {}, { numClasses: o.numClasses });
  const detector = new Detector(config, o.numClasses, loss.columns, new Rng(1), 0.001, { loss: lossName });
  detector.build();
  const dispose = () => {
    loss.dispose();
    detector.params.dispose();
  };
  try {
    // The detector stores class rows as torchvision does (background first).
    const plan = await loadCheckpointInto(detector.params, o.weights, {
      scope: "all",
      numClasses: o.numClasses,
      background: "first",
      model: o.preset,
      log: o.log,
    });
    if (plan.reinitialised.length) {
      throw new InputError(
        `Cannot detect with "${o.weights}" and --num-classes ${o.numClasses}: ${plan.notes.join("; ")}`,
      );
    }
  } catch (e) {
    dispose();
    throw e;
  }
  const card: ModelCard = {
    preset: o.preset,
    config,
    loss: lossName,
    lossParams: {},
    numClasses: o.numClasses,
    categoryIds: Array.from({ length: o.numClasses }, (_, i) => i + 1),
    lossState: null,
  };
  return { card, config, detector, loss, dispose };
}
