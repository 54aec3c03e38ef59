/**
 * A work queue on shared memory: cell 0 is the next item, cell 1 set once an item failed, cell 2 + w once worker
 * w began. A worker marks itself before taking anything, so once all is taken, unmarked workers need no wait.
 */

export function newWorkQueue(workers: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (2 + workers)));
}

/** Take the next `n` items of `total` (`worker` -1: this thread); the first, or -1 when none is left or one failed. */
export function takeWork(queue: Int32Array, worker: number, total: number, n = 1): number {
  if (worker >= 0 && queue[2 + worker] === 0) Atomics.store(queue, 2 + worker, 1);
  if (Atomics.load(queue, 1)) return -1;
  const i = Atomics.add(queue, 0, n);
  return i < total ? i : -1;
}

export function failWork(queue: Int32Array): void {
  Atomics.store(queue, 1, 1);
}

/** Whether worker `w` has begun to take items (then its answer must be awaited). */
export function workerJoined(queue: Int32Array, w: number): boolean {
  return Atomics.load(queue, 2 + w) === 1;
}
