/**
 * Typed arrays on shared memory: what the evaluator's worker threads read and write in place (a posted
 * typed array on a SharedArrayBuffer travels as a view, never as a copy). Zero-filled, and untouched pages
 * cost no memory, as with ordinary typed arrays.
 */

/** A shared Float64Array of `n` zeros. */
export function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(8 * n));
}

/** A shared Int32Array of `n` zeros. */
export function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

/** A shared Uint8Array of `n` zeros. */
export function sharedUint8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}

/** Whether every array lies on shared memory (else a worker would get a copy). */
export function allShared(arrays: ArrayBufferView[]): boolean {
  return arrays.every((a) => a.buffer instanceof SharedArrayBuffer);
}
