/**
 * A pool of storage buffers keyed by byte size, and of rgba32float texture
 * arrays keyed by extent (kernels that read an operand through the texture
 * unit, see gemm_texture.ts). Training loops allocate the same shapes every
 * step, so exact-size reuse removes nearly all allocation after the first
 * step; `stats` lets a test prove that memory stays flat. Tests turn on
 * guards (`enableGuards`): every buffer then ends in a canary region that
 * no kernel may write, which `guarded()` lists for the check.
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
}

/**
 * The 32-bit word at `index` (in words from the buffer's start) of the guard of the `serial`-th
 * guarded buffer, whose usable part ends at word `end`.
 */
export type CanaryWord = (serial: number, index: number, end: number) => number;

/** A buffer's canary region: `bytes` bytes at byte `offset` (the end of its usable size). */
export interface GuardRegion {
  buffer: GPUBuffer;
  offset: number;
  bytes: number;
  serial: number;
}

/**
 * The layers to allocate for a texture array of `layers` layers on wgpu's GL
 * backend. GL has no "view as array" of a plain texture: wgpu-hal picks the
 * GL target from the extent (1 layer: TEXTURE_2D; square layers, 6 of them
 * or a multiple of 6: a cube map), and a 2d-array view of such a texture
 * reads zeros (and logs a warning per bind). At least 2 layers, and not a
 * multiple of 6 when square, always make it a TEXTURE_2D_ARRAY.
 *
 * @example
 * ```ts
 * glTextureLayers(64, 32, 1); // 2
 * glTextureLayers(64, 64, 6); // 7
 * ```
 */
export function glTextureLayers(width: number, height: number, layers: number): number {
  const n = Math.max(2, layers);
  return width === height && n % 6 === 0 ? n + 1 : n;
}

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  /** Usable size and serial number of each guarded buffer. */
  #guarded = new Map<GPUBuffer, { size: number; serial: number }>();
  #guard: { bytes: number; word: CanaryWord } | null = null;
  #nextSerial = 0;
  #inUse = new Set<GPUBuffer>();
  #freeTextures = new Map<string, GPUTexture[]>();
  #texturesInUse = new Set<GPUTexture>();
  #allocated = 0;
  #inUseBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  /**
   * Test hook: from now on every new buffer is `bytes` longer, its usable size is the request
   * rounded up to 4 bytes only, and the tail is filled with `word(serial, i, end)`, so that a kernel
   * writing past the end of its output leaves a trace instead of being clipped by the device.
   */
  enableGuards(bytes: number, word: CanaryWord): void {
    if (bytes % 4 !== 0 || bytes <= 0) throw new Error(`Guard size ${bytes} is not a positive multiple of 4`);
    this.#guard = { bytes, word };
  }

  /** The canary regions of every live guarded buffer, in use or free. */
  guarded(): GuardRegion[] {
    const bytes = this.#guard?.bytes ?? 0;
    return [...this.#guarded].map(([buffer, g]) => ({ buffer, offset: g.size, bytes, serial: g.serial }));
  }

  /** A buffer of at least `bytes` bytes (rounded up to 16; to 4 with guards), from the pool if one is free. */
  acquire(bytes: number, label = "tensor"): GPUBuffer {
    const size = this.#guard ? Math.max(4, Math.ceil(bytes / 4) * 4) : Math.max(16, Math.ceil(bytes / 16) * 16);
    const free = this.#free.get(size);
    let buf = free?.pop();
    if (!buf) {
      buf = this.#guard
        ? this.#createGuarded(size, label, this.#guard)
        : this.device.createBuffer({ size, usage: USAGE, label });
      this.#allocated += size;
    }
    this.#inUse.add(buf);
    this.#inUseBytes += size;
    return buf;
  }

  #createGuarded(size: number, label: string, guard: { bytes: number; word: CanaryWord }): GPUBuffer {
    const buf = this.device.createBuffer({ size: size + guard.bytes, usage: USAGE, label, mappedAtCreation: true });
    const words = new Uint32Array(buf.getMappedRange());
    const serial = this.#nextSerial++;
    for (let i = size / 4; i < words.length; i++) words[i] = guard.word(serial, i, size / 4);
    buf.unmap();
    this.#guarded.set(buf, { size, serial });
    return buf;
  }

  /** Usable bytes of a pooled buffer. */
  #size(buf: GPUBuffer): number {
    return this.#guarded.get(buf)?.size ?? buf.size;
  }

  /** Give a buffer back; releasing twice or releasing a foreign buffer is a bug and throws. */
  release(buf: GPUBuffer): void {
    if (!this.#inUse.delete(buf)) throw new Error(`Buffer "${buf.label}" released twice or not from this pool`);
    const size = this.#size(buf);
    this.#inUseBytes -= size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buf);
  }

  /**
   * Whether textures are made for wgpu's GL backend, which picks a texture's GL target from its
   * extent (see {@link glTextureLayers}); set by the runtime on that backend.
   */
  glTextureTargets = false;

  /**
   * An rgba32float texture array of `width` x `height` texels and at least
   * `layers` layers (bindable as a sampled or a write-only storage texture),
   * from the pool if one is free; contents undefined.
   */
  acquireTexture(width: number, height: number, layers: number, label = "operand"): GPUTexture {
    const allocated = this.glTextureTargets ? glTextureLayers(width, height, layers) : layers;
    let tex = this.#freeTextures.get(extentKey(width, height, allocated))?.pop();
    if (!tex) {
      tex = this.device.createTexture({
        size: [width, height, allocated],
        format: "rgba32float",
        usage: TEXTURE_USAGE,
        label,
      });
      this.#allocated += textureBytes(tex);
    }
    this.#texturesInUse.add(tex);
    this.#inUseBytes += textureBytes(tex);
    this.#layers.set(tex, layers);
    return tex;
  }

  /** The layers asked for when `tex` was acquired (fewer than it has where {@link glTextureLayers} added some). */
  layersOf(tex: GPUTexture): number {
    return this.#layers.get(tex) ?? tex.depthOrArrayLayers;
  }

  #layers = new WeakMap<GPUTexture, number>();

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
        this.#allocated -= this.#size(b);
        this.#guarded.delete(b);
        b.destroy();
      }
    }
    this.#free.clear();
  }

  get stats(): PoolStats {
    return {
      allocatedBytes: this.#allocated,
      inUseBytes: this.#inUseBytes,
      inUseCount: this.#inUse.size + this.#texturesInUse.size,
    };
  }
}
