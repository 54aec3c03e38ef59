/**
 * A pool of storage buffers keyed by byte size. Training loops allocate the
 * same shapes every step, so exact-size reuse removes nearly all allocation
 * after the first step; `stats` lets a test prove that memory stays flat.
 */

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Byte counts of the pool, for leak tests and logs. */
export interface PoolStats {
  /** Bytes of every buffer the pool has created and not destroyed. */
  allocatedBytes: number;
  /** Bytes of buffers handed out and not yet released. */
  inUseBytes: number;
  /** Buffers handed out and not yet released. */
  inUseCount: number;
}

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #inUse = new Set<GPUBuffer>();
  #allocated = 0;
  #inUseBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` bytes (rounded up to 16), from the pool if one is free. */
  acquire(bytes: number, label = "tensor"): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const free = this.#free.get(size);
    let buf = free?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size, usage: USAGE, label });
      this.#allocated += size;
    }
    this.#inUse.add(buf);
    this.#inUseBytes += size;
    return buf;
  }

  /** Give a buffer back; releasing twice or releasing a foreign buffer is a bug and throws. */
  release(buf: GPUBuffer): void {
    if (!this.#inUse.delete(buf)) throw new Error(`Buffer "${buf.label}" released twice or not from this pool`);
    this.#inUseBytes -= buf.size;
    let list = this.#free.get(buf.size);
    if (!list) this.#free.set(buf.size, list = []);
    list.push(buf);
  }

  /** Destroy every free buffer (e.g. between phases with different shapes). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.#allocated -= b.size;
        b.destroy();
      }
    }
    this.#free.clear();
  }

  get stats(): PoolStats {
    return { allocatedBytes: this.#allocated, inUseBytes: this.#inUseBytes, inUseCount: this.#inUse.size };
  }
}
