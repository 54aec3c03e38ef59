import { type CategoryJob, evaluateCategories } from "./evaluate_threads.ts";
import { type RangeJob, readRanges } from "./results_range.ts";

export type WorkerTask =
  | { kind: "ranges"; job: RangeJob; worker: number }
  | { kind: "categories"; job: CategoryJob; worker: number };

export function handleTask(task: WorkerTask): unknown {
  if (task.kind === "ranges") return readRanges(task.job, task.worker);
  if (task.kind === "categories") return evaluateCategories(task.job, task.worker);
  throw new Error(`Unknown worker task ${JSON.stringify((task as { kind: unknown }).kind)}`);
}
