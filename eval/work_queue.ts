/**
 * A queue of numbered work items over shared memory, taken by this thread and a pool's workers: cell 0 is
 * the next item, cell 1 is set once an item failed, and cell 2 + w once worker w has begun to take items.
 * A worker marks itself before it takes anything, so once every item is taken, the workers still unmarked
 * will take none, and the caller need not wait for them to start.
 */

/** A queue for `workers` workers (cells start at 0). */
export function newWorkQueue(workers: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (2 + workers)));
}

/**
 * Take the next `n` items of `total` for worker `worker` (-1: the caller's thread).
 *
 * @returns the first item taken, or -1 when none is left or one failed
 * @example
 * ```ts
 * for (let i; (i = takeWork(queue, -1, total)) >= 0;) work(i);
 * ```
 */
export function takeWork(queue: Int32Array, worker: number, total: number, n = 1): number {
  if (worker >= 0 && queue[2 + worker] === 0) Atomics.store(queue, 2 + worker, 1);
  if (Atomics.load(queue, 1)) return -1;
  const i = Atomics.add(queue, 0, n);
  return i < total ? i : -1;
}

/** Stop the queue: the other threads take nothing more. */
export function failWork(queue: Int32Array): void {
  Atomics.store(queue, 1, 1);
}

/** Whether worker `w` has begun to take items (then its answer must be awaited). */
export function workerJoined(queue: Int32Array, w: number): boolean {
  return Atomics.load(queue, 2 + w) === 1;
}
