// Storage buffers keyed by byte size, rgba32float texture arrays by extent: training allocates the same shapes
// every step, so exact-size reuse removes nearly all allocation after the first. Tests add canary guards.

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const TEXTURE_USAGE = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST;

const extentKey = (width: number, height: number, layers: number) => `${width}x${height}x${layers}`;

const extentBytes = (width: number, height: number, layers: number) => width * height * layers * 16;
const textureBytes = (t: GPUTexture) => extentBytes(t.width, t.height, t.depthOrArrayLayers);

export interface PoolStats {
  allocatedBytes: number;
  inUseBytes: number;
  inUseCount: number;
  /** The most `inUseBytes` has been since the pool was made or `resetPeak` was called. */
  peakInUseBytes: number;
  /** Bytes of free buffers and textures dropped to stay under the limit, since the pool was made. */
  evictedBytes: number;
}

/** The 32-bit word at `index` of the guard of the `serial`-th guarded buffer, whose usable part ends at `end`. */
export type CanaryWord = (serial: number, index: number, end: number) => number;

export interface GuardRegion {
  buffer: GPUBuffer;
  offset: number;
  bytes: number;
  serial: number;
}

/**
 * Layers to allocate for a texture array on wgpu's GL backend, which picks the GL target from the extent (1 layer:
 * 2D; square with a multiple of 6 layers: a cube map) and then reads zeros through a 2d-array view.
 */
export function glTextureLayers(width: number, height: number, layers: number): number {
  const n = Math.max(2, layers);
  return width === height && n % 6 === 0 ? n + 1 : n;
}

/** A pooled resource whose last user may still be queued: the owner destroys it once that work is submitted. */
export type Evicted = GPUBuffer | GPUTexture;

/**
 * Free resources stay pooled while the pool holds at most this many times its highest use, or `floorBytes`: training
 * reallocates nothing after its first step, while inference on images of varying sizes, which never reuses most
 * shapes, keeps a bounded pool.
 */
export interface PoolLimit {
  factor: number;
  floorBytes: number;
}

export const DEFAULT_POOL_LIMIT: PoolLimit = { factor: 2, floorBytes: 2 ** 30 };

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  /** Free buffers and textures, least recently released first. */
  #lru = new Map<Evicted, number>();
  #highWater = 0;
  #evicted = 0;
  #guarded = new Map<GPUBuffer, { size: number; serial: number }>();
  #guard: { bytes: number; word: CanaryWord } | null = null;
  #nextSerial = 0;
  #inUse = new Set<GPUBuffer>();
  #freeTextures = new Map<string, GPUTexture[]>();
  #texturesInUse = new Set<GPUTexture>();
  #allocated = 0;
  #inUseBytes = 0;
  #peak = 0;

  /**
   * `evict` takes a free resource the pool drops (default: destroy it now; the runtime destroys it after its next
   * submit, since a queued dispatch may still bind it).
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly evict: (r: Evicted) => void = (r) => r.destroy(),
    public limit: PoolLimit = DEFAULT_POOL_LIMIT,
  ) {}

  /** Drop least recently released free resources until `bytes` more fit under the limit, or none is free. */
  #makeRoom(bytes: number): void {
    this.#highWater = Math.max(this.#highWater, this.#inUseBytes + bytes);
    const cap = Math.max(this.limit.floorBytes, this.limit.factor * this.#highWater);
    for (const [r, size] of this.#lru) {
      if (this.#allocated + bytes <= cap) return;
      this.#lru.delete(r);
      this.#allocated -= size;
      this.#evicted += size;
      if ("mapAsync" in r) {
        const list = this.#free.get(size)!;
        list.splice(list.indexOf(r), 1);
        this.#guarded.delete(r);
      } else {
        const list = this.#freeTextures.get(extentKey(r.width, r.height, r.depthOrArrayLayers))!;
        list.splice(list.indexOf(r), 1);
      }
      this.evict(r);
    }
  }

  #use(bytes: number): void {
    this.#inUseBytes += bytes;
    this.#peak = Math.max(this.#peak, this.#inUseBytes);
    this.#highWater = Math.max(this.#highWater, this.#inUseBytes);
  }

  /**
   * Test hook: every new buffer is `bytes` longer (usable size rounded to 4 only), its tail `word(serial, i, end)`,
   * so that a kernel writing past its output leaves a trace instead of being clipped by the device.
   */
  enableGuards(bytes: number, word: CanaryWord): void {
    if (bytes % 4 !== 0 || bytes <= 0) throw new Error(`Guard size ${bytes} is not a positive multiple of 4`);
    this.#guard = { bytes, word };
  }

  guarded(): GuardRegion[] {
    const bytes = this.#guard?.bytes ?? 0;
    return [...this.#guarded].map(([buffer, g]) => ({ buffer, offset: g.size, bytes, serial: g.serial }));
  }

  /** A buffer of at least `bytes` bytes (rounded up to 16; to 4 with guards), from the pool if one is free. */
  acquire(bytes: number, label = "tensor"): GPUBuffer {
    const size = this.#guard ? Math.max(4, Math.ceil(bytes / 4) * 4) : Math.max(16, Math.ceil(bytes / 16) * 16);
    let buf = this.#free.get(size)?.pop();
    if (buf) this.#lru.delete(buf);
    else {
      this.#makeRoom(size);
      buf = this.#guard
        ? this.#createGuarded(size, label, this.#guard)
        : this.device.createBuffer({ size, usage: USAGE, label });
      this.#allocated += size;
    }
    this.#inUse.add(buf);
    this.#use(size);
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

  #size(buf: GPUBuffer): number {
    return this.#guarded.get(buf)?.size ?? buf.size;
  }

  release(buf: GPUBuffer): void {
    if (!this.#inUse.delete(buf)) throw new Error(`Buffer "${buf.label}" released twice or not from this pool`);
    const size = this.#size(buf);
    this.#inUseBytes -= size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buf);
    this.#lru.set(buf, size);
  }

  /** Set by the runtime on wgpu's GL backend (see {@link glTextureLayers}). */
  glTextureTargets = false;

  /** An rgba32float texture array of at least `layers` layers, sampled or write-only storage; contents undefined. */
  acquireTexture(width: number, height: number, layers: number, label = "operand"): GPUTexture {
    const allocated = this.glTextureTargets ? glTextureLayers(width, height, layers) : layers;
    const bytes = extentBytes(width, height, allocated);
    let tex = this.#freeTextures.get(extentKey(width, height, allocated))?.pop();
    if (tex) this.#lru.delete(tex);
    else {
      this.#makeRoom(bytes);
      tex = this.device.createTexture({
        size: [width, height, allocated],
        format: "rgba32float",
        usage: TEXTURE_USAGE,
        label,
      });
      this.#allocated += bytes;
    }
    this.#texturesInUse.add(tex);
    this.#use(bytes);
    this.#layers.set(tex, layers);
    return tex;
  }

  /** The layers asked for when `tex` was acquired (fewer than it has where {@link glTextureLayers} added some). */
  layersOf(tex: GPUTexture): number {
    return this.#layers.get(tex) ?? tex.depthOrArrayLayers;
  }

  #layers = new WeakMap<GPUTexture, number>();

  releaseTexture(tex: GPUTexture): void {
    if (!this.#texturesInUse.delete(tex)) {
      throw new Error(`Texture "${tex.label}" released twice or not from this pool`);
    }
    this.#inUseBytes -= textureBytes(tex);
    const key = extentKey(tex.width, tex.height, tex.depthOrArrayLayers);
    let list = this.#freeTextures.get(key);
    if (!list) this.#freeTextures.set(key, list = []);
    list.push(tex);
    this.#lru.set(tex, textureBytes(tex));
  }

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
    this.#lru.clear();
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
      evictedBytes: this.#evicted,
    };
  }
}
