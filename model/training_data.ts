/** Training batches: repeat-factor (or shuffled) epochs, decoded and augmented by loader workers. */
import { Rng } from "../core/rng.ts";
import type { Dataset } from "../data/dataset.ts";
import { type AugmentOptions, BatchLoader, type ImageBatch as LoaderBatch } from "../data/image/batch_loader.ts";
import { RepeatFactorSampler } from "../data/repeat_factor_sampler.ts";
import type { ImageBatch } from "./detector.ts";
import type { BatchSource, TrainingBatch } from "./trainer.ts";

export interface TrainingDataOptions {
  dataset: Dataset;
  seed: number;
  /** Repeat-factor sampling threshold t, or null for uniform epochs. */
  repeatThreshold: number | null;
  /** Another image sampler (class-balanced, square-root), in place of both. */
  sampler?: { epoch(epoch: number): Uint32Array };
  augment?: Partial<AugmentOptions>;
  workers?: number;
  /** "throw" (default) on a missing or corrupt image, or "skip" it and count it in `skipped`. */
  onBadImage?: "throw" | "skip";
  /** Give each target its instance masks (the dataset must be loaded with masks). Default false. */
  masks?: boolean;
}

export function toTrainingBatch(b: LoaderBatch): TrainingBatch {
  const batch: ImageBatch = {
    images: b.images,
    batch: b.batch,
    height: b.height,
    width: b.width,
    sizes: b.plans.map((p) => ({ height: p.outHeight, width: p.outWidth })),
  };
  const targets = b.boxes.map((boxes, i) => ({
    boxes,
    labels: b.labels[i],
    ...(b.masks ? { masks: b.masks[i] } : {}),
  }));
  return { batch, targets };
}

export function trainingData(
  o: TrainingDataOptions,
): BatchSource & { epochSize: number; readonly skipped: number } {
  const ds = o.dataset;
  const annotated: number[] = [];
  for (let i = 0; i < ds.images.count; i++) if (ds.images.annStart[i + 1] > ds.images.annStart[i]) annotated.push(i);
  const sampler = o.sampler ??
    (o.repeatThreshold === null
      ? null
      : new RepeatFactorSampler({ dataset: ds, threshold: o.repeatThreshold, seed: o.seed }));
  const hasAnn = new Uint8Array(ds.images.count);
  for (const i of annotated) hasAnn[i] = 1;
  const cache = new Map<number, Uint32Array>();
  const epochOrder = (e: number): Uint32Array => {
    let order = cache.get(e);
    if (!order) {
      order = sampler
        ? sampler.epoch(e).filter((i) => hasAnn[i] === 1)
        : Uint32Array.from(new Rng((o.seed * 2654435761 + e) >>> 0).shuffle([...annotated]));
      if (cache.size > 4) cache.clear();
      cache.set(e, order);
    }
    return order;
  };
  // Images skipped as undecodable ("skip"): by loaders already closed, and by the open ones so far.
  let skippedClosed = 0;
  const open = new Set<BatchLoader>();
  return {
    get skipped() {
      let n = skippedClosed;
      for (const l of open) n += l.skipped;
      return n;
    },
    numClasses: ds.categories.count,
    epochSize: epochOrder(0).length,
    epochOrder,
    stream(indices, batchSize, seed) {
      const loader = new BatchLoader({
        dataset: ds,
        order: indices,
        batchSize,
        augment: o.augment,
        workers: o.workers,
        seed,
        onBadImage: o.onBadImage,
        masks: o.masks,
      });
      open.add(loader);
      const finish = () => {
        if (open.delete(loader)) skippedClosed += loader.skipped;
      };
      const it = loader[Symbol.asyncIterator]();
      const out = {
        async next(): Promise<IteratorResult<TrainingBatch>> {
          const r = await it.next();
          if (r.done) finish();
          return r.done ? { done: true, value: undefined } : { done: false, value: toTrainingBatch(r.value) };
        },
        close: () => {
          finish();
          return loader.close();
        },
        [Symbol.asyncIterator]() {
          return out;
        },
      };
      return out;
    },
  };
}
