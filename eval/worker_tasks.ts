/**
 * What the evaluator's worker threads do: each message is one task, answered with one message.
 */
import { type CategoryJob, evaluateCategories } from "./evaluate_threads.ts";
import { type RangeJob, readRanges } from "./results_range.ts";

/** A task for a worker thread. */
export type WorkerTask =
  | { kind: "ranges"; job: RangeJob; worker: number }
  | { kind: "categories"; job: CategoryJob; worker: number };

/**
 * Do one task (in a worker; any thread can).
 *
 * @example
 * ```ts
 * self.onmessage = (e) => self.postMessage(handleTask(e.data));
 * ```
 */
export function handleTask(task: WorkerTask): unknown {
  if (task.kind === "ranges") return readRanges(task.job, task.worker);
  if (task.kind === "categories") return evaluateCategories(task.job, task.worker);
  throw new Error(`Unknown worker task ${JSON.stringify((task as { kind: unknown }).kind)}`);
}
