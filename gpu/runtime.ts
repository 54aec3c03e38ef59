/**
 * The runtime: one device, a pipeline cache, a buffer pool, and a command
 * encoder that batches dispatches until something needs their results.
 *
 * @example
 * ```ts
 * import { Runtime } from "./runtime.ts";
 * const rt = await Runtime.get();
 * const buf = rt.upload(new Float32Array([1, 2, 3]));
 * console.log(await rt.readF32(buf, 3));
 * rt.release(buf);
 * ```
 */
import { acquireDevice, type AdapterReport, GpuUnavailableError } from "./device.ts";
import { BufferPool, type PoolStats } from "./pool.ts";
import type { Kernel } from "./kernel.ts";

/** A GPU error (validation, out of memory) that names the kernel or kernels behind it. */
export class GpuError extends Error {
  override name = "GpuError";
}

export type KernelTimes = Map<string, { count: number; ms: number }>;

const MAX_QUERIES = 4096;

/** Bind groups kept for reuse (a training step of the `small` detector binds ~400). */
const BIND_GROUP_CACHE = 4096;

export class Runtime {
  static #instance: Promise<Runtime> | null = null;

  readonly device: GPUDevice;
  readonly report: AdapterReport;
  readonly hasTimestamps: boolean;
  readonly pool: BufferPool;
  #pipelines = new Map<string, GPUComputePipeline>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #batchKernels: string[] = [];
  /** The kernels of the batch submitted last, for errors reported after its submit. */
  #submitted: string[] = [];
  #error: string | null = null;
  #lost: string | null = null;
  #profile: { set: GPUQuerySet; names: string[]; times: KernelTimes } | null = null;
  /** Flush and check errors after every dispatch, so an error names exactly one kernel (slow). */
  debug = Deno.env.get("TAILOR_GPU_DEBUG") === "1";

  private constructor(d: { device: GPUDevice; report: AdapterReport; hasTimestamps: boolean }) {
    this.device = d.device;
    this.report = d.report;
    this.hasTimestamps = d.hasTimestamps;
    this.pool = new BufferPool(d.device, (r) => this.#trash.push(r));
    this.pool.glTextureTargets = d.report.backend === "gl";
    this.device.addEventListener("uncapturederror", (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message.trim().replace(/\s*\n\s*/g, " | ");
      // Errors of a submitted batch (e.g. a copy rejected at encoder.finish()) arrive after flush() started a new list.
      const names = [...new Set([...this.#batchKernels, ...this.#submitted])].slice(0, 8).join(", ");
      this.#error ??= `GPU error in kernel(s) ${names || "(none recorded)"}: ${msg}`;
    });
    this.device.lost.then((info) => {
      this.#lost = `The GPU device was lost (${info.reason}: ${info.message || "no message"}); ` +
        "restart the process; on a CPU adapter check memory use, on a GPU check the driver";
    });
  }

  /** The process-wide runtime on the default adapter. */
  static get(): Promise<Runtime> {
    if (!Runtime.#instance) {
      Runtime.#instance = acquireDevice().then((d) => new Runtime(d));
      Runtime.#instance.catch(() => Runtime.#instance = null);
    }
    return Runtime.#instance;
  }

  /** Whether an adapter can be had, without throwing. */
  static async available(): Promise<boolean> {
    try {
      await Runtime.get();
      return true;
    } catch (e) {
      if (e instanceof GpuUnavailableError) return false;
      throw e;
    }
  }

  /** A pooled storage buffer of at least `bytes` bytes; contents undefined. */
  buffer(bytes: number, label?: string): GPUBuffer {
    return this.pool.acquire(bytes, label);
  }

  upload(data: ArrayBufferView, label?: string): GPUBuffer {
    const buf = this.pool.acquire(data.byteLength, label);
    this.write(buf, data);
    return buf;
  }

  /** Overwrite the start of a buffer. Pending dispatches run first, so they see the old contents. */
  write(buf: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    this.#check();
    if (this.#encoder) this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : (() => {
      const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      p.set(bytes);
      return p;
    })();
    this.device.queue.writeBuffer(buf, offsetBytes, padded);
  }

  /** Return a buffer to the pool. Dispatches already queued that use it still see its data. */
  release(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  pipelineCounts(): Map<string, number> {
    const m = new Map<string, number>();
    for (const p of this.#pipelines.values()) m.set(p.label, (m.get(p.label) ?? 0) + 1);
    return m;
  }

  get memory(): PoolStats {
    return this.pool.stats;
  }

  /**
   * Told of each new pipeline after its first dispatch. llvmpipe compiles a kernel when it first runs, so while a
   * listener is registered that dispatch is submitted alone (`compiled`: pipelines made by this runtime so far).
   */
  readonly compileListeners: Set<(e: { name: string; compiled: number }) => void> = new Set();

  pipeline<P>(kernel: Kernel<P>, params: P): GPUComputePipeline {
    const key = kernel.key ? kernel.key(params) : `${kernel.name}:${JSON.stringify(params)}`;
    let p = this.#pipelines.get(key);
    if (!p) {
      const code = kernel.wgsl(params);
      const module = this.device.createShaderModule({ code, label: kernel.name });
      p = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "main" },
        label: kernel.name,
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** Queue a dispatch: `buffers` (or texture views) bind in order, then `uniform` if given. */
  dispatch<P>(
    kernel: Kernel<P>,
    params: P,
    buffers: (GPUBuffer | GPUTextureView)[],
    uniform?: ArrayBufferView,
  ): void {
    this.#check();
    this.counters.dispatches++;
    const known = this.#pipelines.size;
    const pipeline = this.pipeline(kernel, params);
    // Training loops bind the same pooled buffers step after step: reuse their bind groups.
    const cacheKey = uniform || !this.cacheBindGroups ? null : this.#bindGroupKey(pipeline, buffers);
    const cached = cacheKey === null ? undefined : this.#bindGroups.get(cacheKey);
    if (cached) {
      // Most recently used last, so that eviction takes the oldest.
      this.#bindGroups.delete(cacheKey!);
      this.#bindGroups.set(cacheKey!, cached);
    }
    const entries: GPUBindGroupEntry[] = cached ? [] : buffers.map((b, binding) => ({
      binding,
      resource: "mapAsync" in b ? { buffer: b } : b,
    }));
    let ubuf: GPUBuffer | null = null;
    if (uniform) {
      ubuf = this.device.createBuffer({
        size: Math.max(16, Math.ceil(uniform.byteLength / 16) * 16),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        mappedAtCreation: true,
      });
      new Uint8Array(ubuf.getMappedRange()).set(
        new Uint8Array(uniform.buffer, uniform.byteOffset, uniform.byteLength),
      );
      ubuf.unmap();
      entries.push({ binding: buffers.length, resource: { buffer: ubuf } });
    }
    const bindGroup = cached ?? this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (cacheKey !== null && !cached) {
      this.#bindGroups.set(cacheKey, bindGroup);
      if (this.#bindGroups.size > BIND_GROUP_CACHE) this.#bindGroups.delete(this.#bindGroups.keys().next().value!);
    }
    const [x, y, z] = kernel.dispatch(params);
    this.#encoder ??= this.device.createCommandEncoder();
    this.#batchKernels.push(kernel.name);
    let pass: GPUComputePassEncoder;
    if (this.#profile && this.#profile.names.length + 1 < MAX_QUERIES / 2) {
      this.#closePass();
      const i = this.#profile.names.length;
      this.#profile.names.push(kernel.name);
      pass = this.#encoder.beginComputePass({
        timestampWrites: {
          querySet: this.#profile.set,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      this.#pass = pass;
    } else {
      pass = this.#pass ??= this.#encoder.beginComputePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.#profile) this.#closePass();
    // A uniform buffer lives until the GPU is done with it; destroy after submit.
    if (ubuf) this.#trash.push(ubuf);
    if (this.debug) this.flush();
    if (this.#pipelines.size > known && this.compileListeners.size > 0) {
      this.flush();
      for (const listener of this.compileListeners) listener({ name: kernel.name, compiled: this.#pipelines.size });
    }
  }

  #trash: (GPUBuffer | GPUTexture)[] = [];

  /** Reuse the bind group of a pipeline and buffers bound before (off: a new one per dispatch). */
  cacheBindGroups = true;

  #bindGroups = new Map<string, GPUBindGroup>();
  #ids = new WeakMap<object, number>();
  #nextId = 0;

  #id(o: object): number {
    let id = this.#ids.get(o);
    if (id === undefined) this.#ids.set(o, id = this.#nextId++);
    return id;
  }

  /** Null for texture views (made afresh per dispatch); a destroyed buffer's entries are never hit again and age out. */
  #bindGroupKey(pipeline: GPUComputePipeline, buffers: (GPUBuffer | GPUTextureView)[]): string | null {
    let key = `${this.#id(pipeline)}`;
    for (const b of buffers) {
      if (!("mapAsync" in b)) return null;
      key += `,${this.#id(b)}`;
    }
    return key;
  }

  #closePass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  /** Work since start (dispatches, copies, submits, read-backs and their bytes); diff two snapshots to count a step. */
  readonly counters = { dispatches: 0, copies: 0, submits: 0, readbacks: 0, readBytes: 0 };

  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.counters.copies++;
    this.#check();
    this.#closePass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, Math.ceil(bytes / 4) * 4);
  }

  texture(width: number, height: number, layers: number, label?: string): GPUTexture {
    return this.pool.acquireTexture(width, height, layers, label);
  }

  releaseTexture(tex: GPUTexture): void {
    this.pool.releaseTexture(tex);
  }

  /** Queue a copy of vec4 rows into a texture array, row (z, y) at `srcOffset + (z * height + y) * bytesPerRow`. */
  copyToTexture(src: GPUBuffer, tex: GPUTexture, bytesPerRow: number, srcOffset = 0): void {
    this.#check();
    this.#closePass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#batchKernels.push(`copy to texture "${tex.label}"`);
    this.#encoder.copyBufferToTexture(
      { buffer: src, offset: srcOffset, bytesPerRow, rowsPerImage: tex.height },
      { texture: tex },
      [tex.width, tex.height, this.pool.layersOf(tex)],
    );
  }

  flush(): void {
    this.#closePass();
    if (this.#encoder) {
      this.counters.submits++;
      this.device.queue.submit([this.#encoder.finish()]);
      this.#encoder = null;
    }
    for (const b of this.#trash) b.destroy();
    this.#trash = [];
    if (!this.debug) {
      this.#submitted = this.#batchKernels;
      this.#batchKernels = [];
    }
  }

  /** Wait until the GPU has finished all submitted work, and surface any error it raised. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#check();
    this.#batchKernels = [];
    this.#submitted = [];
  }

  async read(buf: GPUBuffer, bytes = buf.size, offsetBytes = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    this.counters.readbacks++;
    this.counters.readBytes += size;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copy(buf, staging, size, offsetBytes, 0);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.#check();
      throw e;
    }
    this.#check();
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    this.#batchKernels = [];
    this.#submitted = [];
    return out;
  }

  async readF32(buf: GPUBuffer, length: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, length * 4, offset * 4));
  }

  async readI32(buf: GPUBuffer, length: number, offset = 0): Promise<Int32Array> {
    return new Int32Array(await this.read(buf, length * 4, offset * 4));
  }

  async readU32(buf: GPUBuffer, length: number, offset = 0): Promise<Uint32Array> {
    return new Uint32Array(await this.read(buf, length * 4, offset * 4));
  }

  /** GPU time per kernel name of every dispatch in `fn` (timestamp queries); null without them. */
  async timeKernels(fn: () => void | Promise<void>): Promise<KernelTimes | null> {
    if (!this.hasTimestamps) {
      await fn();
      await this.sync();
      return null;
    }
    await this.sync();
    const set = this.device.createQuerySet({ type: "timestamp", count: MAX_QUERIES });
    const times: KernelTimes = new Map();
    this.#profile = { set, names: [], times };
    try {
      await fn();
    } finally {
      const prof = this.#profile;
      this.#profile = null;
      if (prof.names.length > 0) {
        const n = prof.names.length * 2;
        const resolve = this.device.createBuffer({
          size: n * 8,
          usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
        });
        this.#closePass();
        this.#encoder ??= this.device.createCommandEncoder();
        this.#encoder.resolveQuerySet(set, 0, n, resolve, 0);
        const raw = new BigUint64Array(await this.read(resolve, n * 8));
        resolve.destroy();
        prof.names.forEach((name, i) => {
          const ms = Number(raw[2 * i + 1] - raw[2 * i]) / 1e6;
          const t = times.get(name) ?? { count: 0, ms: 0 };
          t.count++;
          t.ms += Math.max(0, ms);
          times.set(name, t);
        });
      }
      set.destroy();
    }
    return times;
  }

  #check(): void {
    if (this.#lost) throw new GpuUnavailableError(this.#lost);
    if (this.#error) {
      const e = this.#error;
      this.#error = null;
      throw new GpuError(e);
    }
  }
}
