// Images decoded ahead in workers; random choices drawn in visiting order from a seeded generator, so batches do
// not depend on worker timing.
import { InputError, quote } from "../../core/errors.ts";
import { Rng } from "../../core/rng.ts";
import type { Dataset } from "../dataset.ts";
import { imagePath } from "../image_path.ts";
import { IMAGENET_NORMALIZATION, type Normalization } from "./decode_image.ts";
import { DecodePool } from "./decode_pool.ts";
import { type InstanceMasks, trainingMasks } from "../masks/training_masks.ts";
import { planResize, type ResizePlan, transformBoxes } from "./resize_plan.ts";

export interface AugmentOptions {
  /** Shorter side per image, drawn uniformly from this list (one value: no jitter). */
  shortSides: readonly number[];
  maxSize: number;
  flipProbability: number;
  normalization: Normalization;
  /** Padded height and width are multiples of this. */
  sizeDivisor: number;
}

export interface ImageBatch {
  /** [batch, 3, height, width], zero (the mean colour) in the padding. */
  images: Float32Array;
  batch: number;
  height: number;
  width: number;
  imageIndices: Uint32Array;
  /** How each image was resized and flipped (its unpadded size is outHeight x outWidth). */
  plans: ResizePlan[];
  /** Corner boxes [x1, y1, x2, y2] per image, in batch pixels; crowd regions left out. */
  boxes: Float32Array[];
  labels: Int32Array[];
  /** With `masks: true`: each image's masks, one per box, at its resized size (`plans[i].outHeight` x `outWidth`). */
  masks?: InstanceMasks[];
}

export interface BatchLoaderOptions {
  dataset: Dataset;
  /** Image indices in visiting order, for iterating the loader itself; {@link BatchLoader.batches} takes its own. */
  order?: ArrayLike<number>;
  batchSize: number;
  augment?: Partial<AugmentOptions>;
  /** Decode threads; default: the cores less one, at least 1. 0 decodes on the calling thread. */
  workers?: number;
  prefetchBatches?: number;
  seed?: number;
  /** "throw" (default) on a missing or corrupt image, or "skip" it and count it in `skipped`. */
  onBadImage?: "throw" | "skip";
  /** Also give each box's mask (the dataset must be loaded with its masks). Default false. */
  masks?: boolean;
}

/** Default augmentation: shorter side 128 (no jitter), max 1333, flip half the time, ImageNet statistics. */
export const DEFAULT_AUGMENT: AugmentOptions = {
  shortSides: [128],
  maxSize: 1333,
  flipProbability: 0.5,
  normalization: IMAGENET_NORMALIZATION,
  sizeDivisor: 32,
};

interface _Job {
  image: number;
  plan: ResizePlan;
  result: Promise<{ pixels: Float32Array } | null>;
}

/**
 * Decodes ahead in workers and yields padded batches: iterate it for one pass over `order`, or call
 * {@link BatchLoader.batches} per epoch and {@link BatchLoader.close} at the end.
 *
 * @example
 * ```ts
 * import { BatchLoader } from "./batch_loader.ts";
 * import type { Dataset } from "../dataset.ts";
 * declare const dataset: Dataset;
 * const loader = new BatchLoader({ dataset, order: [0, 1, 2, 3], batchSize: 2, augment: { shortSides: [96, 128] } });
 * for await (const b of loader) console.log(b.batch, b.height, b.width, b.boxes[0].length / 4);
 * // Or, per epoch with the same workers:
 * const perEpoch = new BatchLoader({ dataset, batchSize: 2 });
 * for (let epoch = 0; epoch < 2; epoch++) for await (const b of perEpoch.batches([3, 1, 2, 0], epoch)) console.log(b.batch);
 * perEpoch.close();
 * ```
 */
export class BatchLoader implements AsyncIterable<ImageBatch> {
  /** Images left out because they could not be decoded (with `onBadImage: "skip"`). */
  skipped = 0;
  readonly #o: BatchLoaderOptions;
  readonly #aug: AugmentOptions;
  readonly #pool: DecodePool;

  constructor(options: BatchLoaderOptions) {
    if (options.masks && !options.dataset.hasMasks) {
      throw new Error(`Masks were asked for, but "${options.dataset.source}" was loaded without them`);
    }
    this.#o = options;
    this.#aug = { ...DEFAULT_AUGMENT, ...options.augment };
    const cores = navigator.hardwareConcurrency ?? 2;
    this.#pool = new DecodePool(options.workers ?? Math.max(1, cores - 1));
  }

  close(): void {
    this.#pool.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ImageBatch> {
    try {
      yield* this.batches(this.#o.order ?? [], this.#o.seed ?? 1);
    } finally {
      this.close();
    }
  }

  /** Batches of `order`, keeping the workers; random choices come from `seed` (e.g. the epoch number). */
  async *batches(order: ArrayLike<number>, seed = 1): AsyncGenerator<ImageBatch> {
    const { dataset, batchSize } = this.#o;
    const rng = new Rng(seed);
    const ahead = Math.max(1, this.#o.prefetchBatches ?? 2) * batchSize;
    const queue: _Job[] = [];
    let next = 0;
    const submit = () => {
      while (queue.length < ahead && next < order.length) queue.push(this.#submit(order[next++], rng));
    };
    submit();
    while (queue.length > 0) {
      const jobs = queue.splice(0, batchSize);
      submit();
      const done: { job: _Job; pixels: Float32Array }[] = [];
      for (const job of jobs) {
        const r = await job.result;
        if (r) done.push({ job, pixels: r.pixels });
      }
      if (done.length > 0) yield this.#collate(dataset, done);
    }
  }

  #submit(image: number, rng: Rng): _Job {
    const { dataset } = this.#o;
    const aug = this.#aug;
    const shortSide = aug.shortSides[rng.int(aug.shortSides.length)];
    const flip = rng.float() < aug.flipProbability;
    const plan = planResize({
      width: dataset.images.width[image],
      height: dataset.images.height[image],
      shortSide,
      maxSize: aug.maxSize,
      flip,
    });
    const path = imagePath(dataset, image);
    const div = aug.sizeDivisor;
    // Padding would hide it, but such an image has no cell on the network's coarsest level.
    const decoded = plan.outWidth < div || plan.outHeight < div
      ? Promise.reject(
        new InputError(
          `Image ${quote(path)} is ${plan.width}x${plan.height}, ${plan.outWidth}x${plan.outHeight} after resizing ` +
            `(short side ${shortSide}, max ${aug.maxSize}): smaller than the network's stride ${div}`,
        ),
      )
      : this.#pool.run({ path, plan, normalization: aug.normalization });
    const result = decoded.then(
      (r) => {
        // decodeImage() checked the file against the annotated size; this guards the resize itself.
        if (r.width !== plan.outWidth || r.height !== plan.outHeight) throw new Error(`Unexpected size from ${path}`);
        return { pixels: r.pixels };
      },
      (e) => {
        if (this.#o.onBadImage !== "skip") throw e;
        this.skipped++;
        return null;
      },
    );
    // Rejections are awaited in order later; mark them handled now so none is reported early.
    result.catch(() => {});
    return { image, plan, result };
  }

  #collate(dataset: Dataset, done: { job: _Job; pixels: Float32Array }[]): ImageBatch {
    const div = this.#aug.sizeDivisor;
    let maxH = 0;
    let maxW = 0;
    for (const { job } of done) {
      maxH = Math.max(maxH, job.plan.outHeight);
      maxW = Math.max(maxW, job.plan.outWidth);
    }
    const height = Math.ceil(maxH / div) * div;
    const width = Math.ceil(maxW / div) * div;
    const n = done.length;
    const images = new Float32Array(n * 3 * height * width);
    const boxes: Float32Array[] = [];
    const labels: Int32Array[] = [];
    const masks: InstanceMasks[] | undefined = this.#o.masks ? [] : undefined;
    const a = dataset.annotations;
    done.forEach(({ job, pixels }, b) => {
      const { outWidth: w, outHeight: h } = job.plan;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < h; y++) {
          const dst = ((b * 3 + c) * height + y) * width;
          images.set(pixels.subarray((c * h + y) * w, (c * h + y + 1) * w), dst);
        }
      }
      const from = dataset.images.annStart[job.image];
      const to = dataset.images.annStart[job.image + 1];
      const keep: number[] = [];
      for (let k = from; k < to; k++) if (!a.iscrowd[k]) keep.push(k);
      const xywh = new Float64Array(4 * keep.length);
      keep.forEach((k, i) => xywh.set(a.bbox.subarray(4 * k, 4 * k + 4), 4 * i));
      boxes.push(transformBoxes(job.plan, xywh));
      labels.push(Int32Array.from(keep, (k) => a.category[k]));
      masks?.push(trainingMasks(dataset, keep, job.plan));
    });
    return {
      images,
      batch: n,
      height,
      width,
      imageIndices: Uint32Array.from(done, (d) => d.job.image),
      plans: done.map((d) => d.job.plan),
      boxes,
      labels,
      ...(masks ? { masks } : {}),
    };
  }
}
