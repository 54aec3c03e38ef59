/** A trained model over a dataset's images as LVIS results rows (masks when trained): `predict`, tau search. */
import type { Dataset } from "../data/dataset.ts";
import { BatchLoader } from "../data/image/batch_loader.ts";
import { tidyAsync } from "../tensor/tensor.ts";
import { type LvisResult, resultRows } from "./result_rows.ts";
import type { TrainedModel } from "./trained_model.ts";
import { toTrainingBatch } from "./training_data.ts";

export interface PredictDatasetOptions {
  /** Image indices to run on (default: every image). */
  images?: ArrayLike<number>;
  batchSize: number;
  shortSide: number;
  maxSize: number;
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Whether results carry masks: a trained mask head (old cards and weights files count as trained). */
export function predictsMasks(model: Pick<TrainedModel, "detector" | "card">): boolean {
  return model.detector.heads.mask !== null && model.card.training?.masks !== false;
}

/**
 * LVIS results rows of `model` on `dataset`'s images, with a `segmentation` when {@link predictsMasks}.
 *
 * @example
 * ```ts
 * const model = await loadTrainedModel("runs/demo/stages/train@loss=eqlv2");
 * const rows = await predictDataset(model, dataset, { batchSize: 4, shortSide: 128, maxSize: 1333 });
 * ```
 */
export async function predictDataset(
  model: Pick<TrainedModel, "detector" | "loss" | "card">,
  dataset: Dataset,
  o: PredictDatasetOptions,
): Promise<LvisResult[]> {
  const order = o.images ?? Array.from({ length: dataset.images.count }, (_, i) => i);
  const loader = new BatchLoader({
    dataset,
    order,
    batchSize: o.batchSize,
    augment: { shortSides: [o.shortSide], maxSize: o.maxSize, flipProbability: 0 },
    workers: o.workers,
  });
  const results: LvisResult[] = [];
  const masks = predictsMasks(model);
  const maskThreshold = model.detector.cfg.maskHead?.threshold;
  let done = 0;
  for await (const lb of loader) {
    const { batch } = toTrainingBatch(lb);
    const dets = await tidyAsync(() => model.detector.predict(batch, model.loss, { masks }));
    dets.forEach((d, b) => {
      const imageId = dataset.images.ids[lb.imageIndices[b]];
      results.push(
        ...resultRows(d, { imageId, size: lb.plans[b], categoryIds: model.card.categoryIds, maskThreshold }),
      );
    });
    done += lb.batch;
    o.onProgress?.(done, order.length);
  }
  return results;
}
