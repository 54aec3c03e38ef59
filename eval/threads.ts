// Worker threads: Web Workers under Deno, `node:worker_threads` under Node (installed by `main.ts`).
import { availableParallelism } from "node:os";
import process from "node:process";

export const BUNDLE_ASSET = "tailor_eval.cjs";

export interface EvalWorker {
  postMessage(message: unknown): void;
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

/** Replace how workers are started (the standalone build starts Node worker threads); returns the old spawner. */
export function setWorkerSpawner(spawn: () => EvalWorker): () => EvalWorker {
  const before = _spawn;
  _spawn = spawn;
  return before;
}

/** Results files at least this large are worth worker threads by default (BENCHMARKS.md, LVIS evaluation). */
export const THREADS_MIN_BYTES = 64 << 20;

/** `TAILOR_EVAL_THREADS` where set, else up to 8 cores from `THREADS_MIN_BYTES` on: below, workers cost more than they save. */
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

  /** Resolves with the worker's answer, or null when it is gone. */
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

  close(): void {
    for (const slot of this.#workers) {
      const w = slot.w;
      slot.w = null;
      w?.terminate();
      for (const resolve of slot.queue.splice(0)) resolve(null);
    }
  }
}
