/**
 * A pool of storage buffers keyed by byte size, and of rgba32float texture
 * arrays keyed by extent (kernels that read an operand through the texture
 * unit, see gemm_texture.ts). Training loops allocate the same shapes every
 * step, so exact-size reuse removes nearly all allocation after the first
 * step; `stats` lets a test prove that memory stays flat.
 */

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const TEXTURE_USAGE = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST;

/** The pool's key of a texture array extent. */
const extentKey = (width: number, height: number, layers: number) => `${width}x${height}x${layers}`;

/** Bytes of a pooled texture: rgba32float is 16 bytes per texel. */
const textureBytes = (t: GPUTexture) => t.width * t.height * t.depthOrArrayLayers * 16;

/** Byte counts of the pool, for leak tests and logs. */
export interface PoolStats {
  /** Bytes of every buffer and texture the pool has created and not destroyed. */
  allocatedBytes: number;
  /** Bytes of buffers and textures handed out and not yet released. */
  inUseBytes: number;
  /** Buffers and textures handed out and not yet released. */
  inUseCount: number;
  /** The most `inUseBytes` has been since the pool was made or `resetPeak` was called. */
  peakInUseBytes: number;
}

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #inUse = new Set<GPUBuffer>();
  #freeTextures = new Map<string, GPUTexture[]>();
  #texturesInUse = new Set<GPUTexture>();
  #allocated = 0;
  #inUseBytes = 0;
  #peak = 0;

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
    this.#peak = Math.max(this.#peak, this.#inUseBytes);
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

  /**
   * An rgba32float texture array of `width` x `height` texels and `layers`
   * layers (bindable as a sampled or a write-only storage texture), from the
   * pool if one is free; contents undefined.
   */
  acquireTexture(width: number, height: number, layers: number, label = "operand"): GPUTexture {
    let tex = this.#freeTextures.get(extentKey(width, height, layers))?.pop();
    if (!tex) {
      tex = this.device.createTexture({
        size: [width, height, layers],
        format: "rgba32float",
        usage: TEXTURE_USAGE,
        label,
      });
      this.#allocated += textureBytes(tex);
    }
    this.#texturesInUse.add(tex);
    this.#inUseBytes += textureBytes(tex);
    this.#peak = Math.max(this.#peak, this.#inUseBytes);
    return tex;
  }

  /** Give a texture back; releasing twice or releasing a foreign texture is a bug and throws. */
  releaseTexture(tex: GPUTexture): void {
    if (!this.#texturesInUse.delete(tex)) {
      throw new Error(`Texture "${tex.label}" released twice or not from this pool`);
    }
    this.#inUseBytes -= textureBytes(tex);
    const key = extentKey(tex.width, tex.height, tex.depthOrArrayLayers);
    let list = this.#freeTextures.get(key);
    if (!list) this.#freeTextures.set(key, list = []);
    list.push(tex);
  }

  /** Destroy every free buffer and texture (e.g. between phases with different shapes). */
  trim(): void {
    for (const list of this.#freeTextures.values()) {
      for (const t of list) {
        this.#allocated -= textureBytes(t);
        t.destroy();
      }
    }
    this.#freeTextures.clear();
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.#allocated -= b.size;
        b.destroy();
      }
    }
    this.#free.clear();
  }

  /** Start `peakInUseBytes` again from what is in use now. */
  resetPeak(): void {
    this.#peak = this.#inUseBytes;
  }

  get stats(): PoolStats {
    return {
      allocatedBytes: this.#allocated,
      inUseBytes: this.#inUseBytes,
      inUseCount: this.#inUse.size + this.#texturesInUse.size,
      peakInUseBytes: this.#peak,
    };
  }
}
