// Shared typed arrays travel to workers as views, never as copies; untouched pages cost no memory.

export function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(8 * n));
}

export function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

export function sharedUint8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}

/** Whether every array lies on shared memory (else a worker would get a copy). */
export function allShared(arrays: ArrayBufferView[]): boolean {
  return arrays.every((a) => a.buffer instanceof SharedArrayBuffer);
}
