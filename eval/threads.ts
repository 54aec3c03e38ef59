/**
 * Worker threads for the evaluator, under Deno (Web Workers running `eval_worker.ts`) and under Node
 * (`node:worker_threads`, installed by `main.ts` for the standalone build). A worker answers each task it
 * is sent (`handleTask`) with one message.
 */
import { availableParallelism } from "node:os";
import process from "node:process";

/** The name under which `deno task build` stores the bundle in the executable, for its worker threads. */
export const BUNDLE_ASSET = "tailor_eval.cjs";

/** What the evaluator needs of a worker thread. */
export interface EvalWorker {
  postMessage(message: unknown): void;
  /** Called with each answer, or with an Error when the worker failed. */
  listen(callback: (message: unknown) => void): void;
  terminate(): void;
}

let _spawn: () => EvalWorker = () => {
  const w = new Worker(new URL("./eval_worker.ts", import.meta.url).href, { type: "module" });
  return {
    postMessage: (m) => w.postMessage(m),
    listen: (callback) => {
      w.onmessage = (e) => callback(e.data);
      w.onerror = (e) => (e.preventDefault(), callback(new Error(e.message)));
    },
    terminate: () => w.terminate(),
  };
};

/**
 * Replace how workers are started (the standalone build starts Node worker threads).
 *
 * @example
 * ```ts
 * setWorkerSpawner(() => nodeWorker());
 * ```
 */
export function setWorkerSpawner(spawn: () => EvalWorker): void {
  _spawn = spawn;
}

/**
 * Threads an evaluation may use, this one included: `TAILOR_EVAL_THREADS` where set (1: no workers), else
 * the cores available, at most 8.
 */
export function evalThreads(): number {
  let env = NaN;
  try {
    env = Number(process.env.TAILOR_EVAL_THREADS ?? NaN);
  } catch { /* no permission to read the environment: the default */ }
  return Number.isInteger(env) && env > 0 ? env : Math.min(8, availableParallelism());
}

/**
 * Worker threads started at once (their start-up overlaps the caller's work) and given one task at a time.
 * A worker that cannot start or fails answers null; the caller then does the work itself.
 */
export class WorkerPool {
  #workers: { w: EvalWorker | null; queue: ((m: unknown) => void)[] }[];

  /** Start `size` workers. */
  constructor(readonly size: number) {
    this.#workers = Array.from({ length: size }, () => {
      const slot = { w: null as EvalWorker | null, queue: [] as ((m: unknown) => void)[] };
      try {
        slot.w = _spawn();
        slot.w.listen((m) => {
          if (m instanceof Error) {
            slot.w?.terminate();
            slot.w = null;
            for (const resolve of slot.queue.splice(0)) resolve(null);
          } else slot.queue.shift()?.(m);
        });
      } catch {
        slot.w = null;
      }
      return slot;
    });
  }

  /**
   * Send `task` to worker `index`; resolves with its answer, or null when that worker is gone.
   *
   * @example
   * ```ts
   * const pool = new WorkerPool(1);
   * const outcome = await pool.run(0, { kind: "range", task });
   * pool.close();
   * ```
   */
  run<T>(index: number, task: unknown): Promise<T | null> {
    const slot = this.#workers[index];
    if (!slot?.w) return Promise.resolve(null);
    return new Promise((resolve) => {
      slot.queue.push(resolve as (m: unknown) => void);
      slot.w!.postMessage(task);
    });
  }

  /** Stop every worker; pending tasks resolve with null. */
  close(): void {
    for (const slot of this.#workers) {
      slot.w?.terminate();
      slot.w = null;
      for (const resolve of slot.queue.splice(0)) resolve(null);
    }
  }
}
