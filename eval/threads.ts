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
 * @returns the spawner replaced, to put back
 * @example
 * ```ts
 * const before = setWorkerSpawner(() => nodeWorker());
 * ```
 */
export function setWorkerSpawner(spawn: () => EvalWorker): () => EvalWorker {
  const before = _spawn;
  _spawn = spawn;
  return before;
}

/** Results files at least this large are worth worker threads by default (BENCHMARKS.md, LVIS evaluation). */
export const THREADS_MIN_BYTES = 64 << 20;

/**
 * Threads to evaluate results files of `bytes` (the largest) with, this one included: `TAILOR_EVAL_THREADS`
 * where set (1: no workers), else the cores available (at most 8) from `THREADS_MIN_BYTES` on and 1 below:
 * there, starting workers costs more than they save.
 *
 * @example
 * ```ts
 * const pool = evalThreads(size) > 1 ? new WorkerPool(evalThreads(size) - 1) : null;
 * ```
 */
export function evalThreads(bytes: number): number {
  let env = NaN;
  try {
    env = Number(process.env.TAILOR_EVAL_THREADS ?? NaN);
  } catch { /* no permission to read the environment: the default */ }
  if (Number.isInteger(env) && env > 0) return env;
  return bytes >= THREADS_MIN_BYTES ? Math.min(8, availableParallelism()) : 1;
}

/**
 * Worker threads started at once (their start-up overlaps the caller's work) and given one task at a time.
 * A worker that cannot start or fails answers null; the caller then does the work itself.
 */
export class WorkerPool {
  #workers: { w: EvalWorker | null; queue: ((m: unknown) => void)[] }[];
  /** Why workers stopped early, one line each (the work they would have done was done here). */
  readonly failures: string[] = [];

  /** Start `size` workers. */
  constructor(readonly size: number) {
    this.#workers = Array.from({ length: size }, () => {
      const slot = { w: null as EvalWorker | null, queue: [] as ((m: unknown) => void)[] };
      try {
        slot.w = _spawn();
        slot.w.listen((m) => {
          if (!(m instanceof Error)) return slot.queue.shift()?.(m);
          // An error after close() is the worker's exit, not a failure.
          if (slot.w) this.#fail(slot, m);
        });
      } catch (e) {
        this.#fail(slot, e);
      }
      return slot;
    });
  }

  #fail(slot: { w: EvalWorker | null; queue: ((m: unknown) => void)[] }, e: unknown): void {
    this.failures.push(String((e as Error)?.message ?? e).split("\n")[0]);
    slot.w?.terminate();
    slot.w = null;
    for (const resolve of slot.queue.splice(0)) resolve(null);
  }

  /**
   * Send `task` to worker `index`; resolves with its answer, or null when that worker is gone.
   *
   * @example
   * ```ts
   * const pool = new WorkerPool(1);
   * const outcome = await pool.run(0, { kind: "categories", job, worker: 0 });
   * pool.close();
   * ```
   */
  run<T>(index: number, task: unknown): Promise<T | null> {
    const slot = this.#workers[index];
    if (!slot?.w) return Promise.resolve(null);
    return new Promise((resolve) => {
      slot.queue.push(resolve as (m: unknown) => void);
      try {
        slot.w!.postMessage(task);
      } catch (e) {
        this.#fail(slot, e);
      }
    });
  }

  /** Stop every worker; pending tasks resolve with null. */
  close(): void {
    for (const slot of this.#workers) {
      const w = slot.w;
      slot.w = null;
      w?.terminate();
      for (const resolve of slot.queue.splice(0)) resolve(null);
    }
  }
}
