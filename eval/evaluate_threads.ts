// `evaluate`'s per-category loop shared with a pool's workers, each filling its chunk of categories in the shared
// state in place; categories never mix, so the state is bit-identical. Boxes only: mask caches are per thread.
import { type CategoryContext, CategoryEvaluator } from "./category_eval.ts";
import type { EvalState } from "./eval_state.ts";
import { evaluate, type EvaluateOptions, prepareEvaluation } from "./evaluate.ts";
import type { Grouped } from "./federated.ts";
import type { GroundTruth } from "./ground_truth.ts";
import type { Results } from "./results_file.ts";
import { allShared } from "./shared_arrays.ts";
import type { WorkerPool } from "./threads.ts";
import { newWorkQueue, takeWork, workerJoined } from "./work_queue.ts";

/** Categories a thread takes at a time: small enough to even out, large enough that the counter is cold. */
const _CHUNK = 16;

export interface CategoryJob {
  gt: Pick<
    GroundTruth,
    | "categoryIds"
    | "imageIds"
    | "imageCategoryFlags"
    | "annotationImage"
    | "annotationBbox"
    | "annotationArea"
    | "annotationIgnore"
    | "annotationId"
  >;
  dt: Pick<Results, "image" | "score" | "bbox" | "hasBbox">;
  gtUsed: Grouped;
  dtUsed: Grouped;
  state: Pick<EvalState, "evaluated" | "precision" | "recall" | "numGt" | "present" | "pooled">;
  /** Chunks of categories, `_CHUNK` positions each, from a shared queue (`newWorkQueue`). */
  queue: Int32Array;
}

/** Evaluate as `evaluate` does, on this thread and the pool's workers. */
export async function evaluateOnThreads(
  gt: GroundTruth,
  dt: Results,
  options: EvaluateOptions,
  pool: WorkerPool | null,
): Promise<EvalState> {
  if (!pool || pool.size === 0 || (options.iouType ?? "bbox") !== "bbox") return evaluate(gt, dt, options);
  const { state, context } = prepareEvaluation(gt, dt, options);
  const evaluator = new CategoryEvaluator(context);
  const job = categoryJob(state, context, pool.size);
  if (!job) {
    for (let k = 0; k < state.evaluated.length; k++) if (state.evaluated[k]) evaluator.run(k, state, state.pooled);
    return state;
  }
  const answers = Array.from(
    { length: pool.size },
    (_, worker) => pool.run(worker, { kind: "categories", job, worker }),
  );
  evaluateCategories(job, -1, evaluator);
  // Every chunk is taken now; a worker that has not joined yet will take none.
  const done = await Promise.all(answers.filter((_, w) => workerJoined(job.queue, w)));
  // A worker that failed may have left categories half done: evaluate once more on this thread.
  return done.some((d) => d === null) ? evaluate(gt, dt, options) : state;
}

/** The job of filling `state`'s categories; null unless a box evaluation on shared memory (a worker would fill a copy). */
export function categoryJob(
  state: EvalState,
  context: CategoryContext,
  workers: number,
): CategoryJob | null {
  const { gt, dt } = context;
  if (context.iouType !== "bbox" || context.area) return null;
  const job: CategoryJob = {
    gt: {
      categoryIds: gt.categoryIds,
      imageIds: gt.imageIds,
      imageCategoryFlags: gt.imageCategoryFlags,
      annotationImage: gt.annotationImage,
      annotationBbox: gt.annotationBbox,
      annotationArea: gt.annotationArea,
      annotationIgnore: gt.annotationIgnore,
      annotationId: gt.annotationId,
    },
    dt: { image: dt.image, score: dt.score, bbox: dt.bbox, hasBbox: dt.hasBbox },
    gtUsed: context.gtUsed,
    dtUsed: context.dtUsed,
    state,
    queue: newWorkQueue(workers),
  };
  const p = state.pooled;
  // Category and image ids are small and only read: a copy does.
  const written = [
    ...Object.values(job.gt).filter((v) => v !== gt.categoryIds && v !== gt.imageIds),
    ...Object.values(job.dt),
    context.gtUsed.order,
    context.gtUsed.catStart,
    context.dtUsed.order,
    context.dtUsed.catStart,
    state.precision,
    state.recall,
    state.numGt,
    state.present,
    ...(p ? [p.score, p.image, p.category, p.rank, p.status] : []),
  ];
  return allShared(written) ? job : null;
}

/** Take chunks of categories from the job's queue until none is left and evaluate them (`worker` -1: this thread). */
export function evaluateCategories(
  job: CategoryJob,
  worker: number,
  evaluator: CategoryEvaluator = _evaluatorFor(job),
): number {
  const K = job.state.evaluated.length, state = job.state;
  let done = 0;
  for (let k0; (k0 = takeWork(job.queue, worker, K, _CHUNK)) >= 0;) {
    for (let k = k0; k < Math.min(K, k0 + _CHUNK); k++) {
      if (state.evaluated[k]) (evaluator.run(k, state, state.pooled), done++);
    }
  }
  return done;
}

/** An evaluator over the job's arrays with only the fields box matching reads. */
function _evaluatorFor(job: CategoryJob): CategoryEvaluator {
  const none = new Float64Array(0);
  const gt: GroundTruth = {
    ...job.gt,
    file: "",
    notes: [],
    imageIndex: new Map(),
    imageHeight: none,
    imageWidth: none,
    categoryIndex: new Map(),
    frequency: new Uint8Array(0),
    categoryNames: [],
    annotationCount: job.gt.annotationImage.length,
    annotationCategory: new Int32Array(0),
    annotationSegmentation: null,
  };
  const dt: Results = {
    ...job.dt,
    file: "",
    count: job.dt.image.length,
    category: new Int32Array(0),
    segmentation: null,
  };
  return new CategoryEvaluator({
    gt,
    dt,
    iouType: "bbox",
    area: null,
    masks: [],
    gtUsed: job.gtUsed,
    dtUsed: job.dtUsed,
  });
}
