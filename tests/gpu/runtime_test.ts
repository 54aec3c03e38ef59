import assert from "node:assert/strict";
import { gpuTest } from "../_util.ts";
import { checkCanaries } from "../_canary.ts";
import { acquireDevice, GpuUnavailableError, preferredBackend } from "../../gpu/device.ts";
import { BufferPool, type Evicted, glTextureLayers } from "../../gpu/pool.ts";
import { GpuError } from "../../gpu/runtime.ts";
import { defineKernel } from "../../kernels/kernel.ts";
import { rt } from "../../tensor/tensor.ts";

const fill = defineKernel<{ n: number; value: number }>({
  name: "test_fill",
  wgsl: ({ n, value }) =>
    `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < ${n}u) { Y[g.x] = ${value.toFixed(1)}; }
}`,
  dispatch: ({ n }) => [Math.ceil(n / 64), 1, 1],
});

const broken = defineKernel<{ n: number }>({
  name: "test_broken_kernel",
  wgsl: () => `@compute @workgroup_size(64) fn main() { let x: f32 = undefined_name; }`,
  dispatch: () => [1, 1, 1],
});

gpuTest("Runtime.dispatch() reports a shader error as a GpuError naming the kernel", async () => {
  const r = rt();
  const buf = r.buffer(256);
  r.dispatch(broken, { n: 1 }, []);
  await assert.rejects(() => r.sync(), (e: Error) => e instanceof GpuError && /test_broken_kernel/.test(e.message));
  // The runtime stays usable after the error.
  r.dispatch(fill, { n: 64, value: 3 }, [buf]);
  assert.deepEqual(Array.from(await r.readF32(buf, 64)), new Array(64).fill(3));
  r.release(buf);
});

gpuTest("Runtime.pipeline() compiles a kernel once per key and again for other parameters", () => {
  const r = rt();
  const before = r.pipelineCount;
  const a = r.pipeline(fill, { n: 128, value: 1 });
  assert.equal(r.pipeline(fill, { n: 128, value: 1 }), a);
  assert.equal(r.pipelineCount, before + 1);
  assert.notEqual(r.pipeline(fill, { n: 128, value: 2 }), a);
  assert.equal(r.pipelineCount, before + 2);
});

gpuTest("Runtime.compileListeners hear of each new pipeline once, when it is first dispatched", async () => {
  const r = rt();
  const buf = r.buffer(4 * 512);
  const heard: { name: string; compiled: number }[] = [];
  const salt = 1 + Math.floor(Math.random() * 1000);
  const listener = (e: { name: string; compiled: number }) => heard.push(e);
  r.compileListeners.add(listener);
  try {
    const before = r.pipelineCount;
    for (const value of [salt, salt, salt + 1, salt]) r.dispatch(fill, { n: 512, value }, [buf]);
    r.pipeline(fill, { n: 512, value: salt + 2 }); // made, not dispatched: nothing run, nothing heard
    assert.deepEqual(heard.map((h) => [h.name, h.compiled - before]), [["test_fill", 1], ["test_fill", 2]]);
    assert.equal((await r.readF32(buf, 512))[511], Math.fround(salt), "results unchanged by the extra submits");
  } finally {
    r.compileListeners.delete(listener);
  }
  r.dispatch(fill, { n: 512, value: salt + 3 }, [buf]);
  assert.equal(heard.length, 2, "no listener, no report");
  r.release(buf);
});

gpuTest("Runtime.timeKernels() times every dispatched kernel by name where timestamps exist", async () => {
  const r = rt();
  const buf = r.buffer(4 * 4096);
  const times = await r.timeKernels(() => {
    for (let i = 0; i < 3; i++) r.dispatch(fill, { n: 4096, value: i }, [buf]);
  });
  if (r.hasTimestamps) {
    assert.ok(times);
    assert.equal(times.get("test_fill")?.count, 3);
    assert.ok(times.get("test_fill")!.ms >= 0);
  } else assert.equal(times, null);
  assert.equal((await r.readF32(buf, 1))[0], 2);
  r.release(buf);
});

gpuTest("BufferPool reuses released buffers of the same size and rejects double release", () => {
  const r = rt();
  const a = r.buffer(1000);
  const allocated = r.memory.allocatedBytes;
  r.release(a);
  const b = r.buffer(1000);
  assert.equal(b, a);
  assert.equal(r.memory.allocatedBytes, allocated);
  r.release(b);
  assert.throws(() => r.release(b), /released twice/);
});

gpuTest("The texture pool reuses released textures of the same extent, counts them, and rejects double release", () => {
  const r = rt();
  const before = r.memory;
  const a = r.texture(5, 7, 3, "t");
  assert.equal(r.memory.allocatedBytes - before.allocatedBytes, 5 * 7 * 3 * 16);
  assert.equal(r.memory.inUseCount, before.inUseCount + 1);
  r.releaseTexture(a);
  const b = r.texture(5, 7, 3);
  assert.equal(b, a);
  assert.notEqual(r.texture(7, 5, 3), a, "another extent is another texture");
  r.releaseTexture(b);
  assert.throws(() => r.releaseTexture(b), /released twice/);
});

gpuTest("BufferPool drops its least recently released free buffers when it outgrows its limit", () => {
  const evicted: Evicted[] = [];
  const pool = new BufferPool(rt().device, (b) => {
    evicted.push(b);
    b.destroy();
  }, { factor: 1.5, floorBytes: 0 });
  const a = pool.acquire(1024);
  pool.release(a);
  const b = pool.acquire(2048); // 3072 allocated, 1.5 x the 2048 in use at most: both kept
  pool.release(b);
  assert.deepEqual(evicted, []);
  const c = pool.acquire(4096); // 7168 would exceed 1.5 x 4096: the older free buffer goes, b stays
  assert.deepEqual(evicted, [a]);
  assert.equal(pool.stats.allocatedBytes, 2048 + 4096);
  assert.equal(pool.acquire(2048), b);
  const t = pool.acquireTexture(8, 8, 2); // 2048 bytes
  pool.releaseTexture(t);
  pool.release(b);
  pool.release(c);
  pool.acquire(8192); // 16384 would exceed 1.5 x 8192: the texture and b go (released before c), c stays
  assert.deepEqual(evicted, [a, t, b]);
  assert.equal(pool.stats.allocatedBytes, 4096 + 8192);
  assert.equal(pool.stats.evictedBytes, 1024 + 2048 + 2048);
  pool.trim();
});

gpuTest("A free buffer dropped while a queued copy still reads it is destroyed only after that submit", async () => {
  const r = rt();
  const data = Float32Array.from({ length: 64 }, () => 1 + Math.random());
  const src = r.upload(data);
  const dst = r.buffer(data.byteLength);
  r.copy(src, dst, data.byteLength);
  r.release(src);
  const saved = r.pool.limit;
  r.pool.limit = { factor: 0, floorBytes: 0 };
  try {
    const before = r.memory.allocatedBytes;
    const other = r.buffer(data.byteLength * 3 + 16); // a new size: every free buffer, src among them, is dropped
    assert.ok(r.memory.allocatedBytes <= before - data.byteLength + other.size, "src was dropped from the pool");
    r.release(other);
  } finally {
    r.pool.limit = saved;
  }
  assert.deepEqual(await r.readF32(dst, data.length), data);
  r.release(dst);
});

gpuTest("A bad buffer-to-texture copy is a GpuError naming the copy and its texture", async () => {
  const r = rt();
  const buf = r.buffer(4096);
  const tex = r.texture(4, 4, 1, "misaligned rows");
  r.copyToTexture(buf, tex, 64); // WebGPU wants rows of a multiple of 256 bytes
  await assert.rejects(() => r.sync(), (e: Error) => e instanceof GpuError && /misaligned rows/.test(e.message));
  r.releaseTexture(tex);
  r.release(buf);
});

Deno.test("acquireDevice() without navigator.gpu is a one-line error that says what to install", async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator")!;
  Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true });
  try {
    await assert.rejects(acquireDevice(), (e: Error) => {
      assert.ok(e instanceof GpuUnavailableError);
      assert.ok(!e.message.includes("\n"), "the message is one line");
      assert.match(e.message, /mesa-vulkan-drivers/);
      assert.match(e.message, /DENO_WEBGPU_BACKEND/);
      return true;
    });
  } finally {
    Object.defineProperty(globalThis, "navigator", saved);
  }
});

Deno.test("preferredBackend() picks vulkan only where a Vulkan driver manifest is installed or named, else gl on Linux", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  const seen: string[] = [];
  const dirs = (files: Record<string, string[]>) => (d: string) => {
    seen.push(d);
    if (!(d in files)) throw new Deno.errors.NotFound(d);
    return files[d];
  };
  assert.equal(preferredBackend(env({ VK_ICD_FILENAMES: "/opt/icd.json" }), dirs({})), "vulkan");
  assert.equal(preferredBackend(env({ VK_DRIVER_FILES: "/opt/icd.json" }), dirs({})), "vulkan");
  // Without a driver, Linux has only GL left: said outright, so that tailor knows which backend it is on.
  assert.equal(preferredBackend(env({}), dirs({}), "linux"), "gl");
  assert.equal(preferredBackend(env({}), dirs({}), "darwin"), null);
  assert.deepEqual(seen, [
    "/etc/vulkan/icd.d",
    "/usr/local/share/vulkan/icd.d",
    "/usr/share/vulkan/icd.d",
    ...["/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d", "/usr/share/vulkan/icd.d"],
  ]);
  assert.equal(preferredBackend(env({}), dirs({ "/usr/share/vulkan/icd.d": ["README"] }), "linux"), "gl");
  seen.length = 0;
  const home = env({ HOME: "/home/u" });
  assert.equal(preferredBackend(home, dirs({ "/home/u/.local/share/vulkan/icd.d": ["lvp.json"] })), "vulkan");
  assert.deepEqual(seen, ["/etc/vulkan/icd.d", "/home/u/.local/share/vulkan/icd.d"]);
  assert.equal(preferredBackend(env({}), dirs({ "/usr/share/vulkan/icd.d": ["lvp_icd.x86_64.json"] })), "vulkan");
  seen.length = 0;
  const custom = env({ XDG_DATA_DIRS: "/opt/share/:/srv" });
  assert.equal(preferredBackend(custom, dirs({ "/srv/vulkan/icd.d": ["nvidia_icd.json"] })), "vulkan");
  assert.deepEqual(seen, ["/etc/vulkan/icd.d", "/opt/share/vulkan/icd.d", "/srv/vulkan/icd.d"]);
});

gpuTest("Runtime.dispatch() reuses bind groups only for the same pipeline and buffers", async () => {
  const r = rt();
  const k = defineKernel<{ scale: number }>({
    name: "test_axpy",
    wgsl: (p) =>
      `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(8)
fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < 8u) { Y[g.x] = ${p.scale}.0 * A[g.x] + B[g.x]; } }`,
    dispatch: () => [1, 1, 1],
  });
  const data = (base: number) => Float32Array.from({ length: 8 }, (_, i) => base + i);
  const run = async (scale: number, a: GPUBuffer, b: GPUBuffer, y: GPUBuffer) => {
    r.device.queue.writeBuffer(y, 0, new Float32Array(8).fill(NaN));
    r.dispatch(k, { scale }, [a, b, y]);
    return Array.from(await r.readF32(y, 8));
  };
  const want = (scale: number, a: Float32Array, b: Float32Array) => Array.from(a, (v, i) => scale * v + b[i]);
  const deviceBuffer = (v: Float32Array) => {
    const buf = r.device.createBuffer({ size: v.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    r.device.queue.writeBuffer(buf, 0, v);
    return buf;
  };
  const [da, db] = [data(10), data(100)];
  const a = r.upload(da), b = r.upload(db), y = r.upload(new Float32Array(8));
  for (const cache of [true, false]) {
    r.cacheBindGroups = cache;
    try {
      assert.deepEqual(await run(2, a, b, y), want(2, da, db));
      // The same buffers in another order, and another pipeline with the same buffers.
      assert.deepEqual(await run(2, b, a, y), want(2, db, da));
      assert.deepEqual(await run(3, a, b, y), want(3, da, db));
      // A hit sees the buffers' current contents.
      const da2 = data(-50);
      r.device.queue.writeBuffer(a, 0, da2);
      assert.deepEqual(await run(2, a, b, y), want(2, da2, db));
      r.device.queue.writeBuffer(a, 0, da);
      // A destroyed buffer's successor is a new buffer: no stale bind group. Made outside the
      // pool, whose buffers are released, never destroyed (their canaries are checked after the test).
      const c = deviceBuffer(data(1000));
      assert.deepEqual(await run(2, c, b, y), want(2, data(1000), db));
      c.destroy();
      const c2 = deviceBuffer(data(2000));
      assert.deepEqual(await run(2, c2, b, y), want(2, data(2000), db));
      c2.destroy();
    } finally {
      r.cacheBindGroups = true;
    }
  }
  for (const buf of [a, b, y]) r.release(buf);
});

gpuTest("checkCanaries() names the buffer a kernel wrote past the end of, and refills its guard", async () => {
  const r = rt();
  const buf = r.buffer(4 * 61, "canary victim");
  // Writes Y[0..63]: three floats past the 61 the buffer holds.
  r.dispatch(fill, { n: 64, value: 7 }, [buf]);
  await assert.rejects(
    () => checkCanaries(r),
    /buffer "canary victim" of 61 floats: 3 guard words overwritten, the first at element 61 \(value 7\)/,
  );
  await checkCanaries(r);
  r.dispatch(fill, { n: 61, value: 7 }, [buf]);
  await checkCanaries(r);
  r.release(buf);
});

Deno.test("glTextureLayers() gives every texture array a GL array target: 2+ layers, no square multiple of 6", () => {
  for (let w = 1; w <= 9; w++) {
    for (let h = 1; h <= 9; h++) {
      for (let layers = 1; layers <= 40; layers++) {
        const n = glTextureLayers(w, h, layers);
        assert.ok(n >= layers && n >= 2, `${w}x${h}x${layers} -> ${n}`);
        assert.ok(!(w === h && n % 6 === 0), `${w}x${h}x${layers} -> ${n} would be a cube map`);
        assert.ok(n <= Math.max(2, layers) + 1, "at most one layer more than needed");
      }
    }
  }
});

gpuTest("Runtime.counters counts dispatches, copies, submits and read-backs with their bytes", async () => {
  const r = rt();
  const a = r.buffer(256), b = r.buffer(256);
  const before = { ...r.counters };
  r.dispatch(fill, { n: 64, value: 1 }, [a]);
  r.dispatch(fill, { n: 32, value: 2 }, [a]);
  r.copy(a, b, 128);
  assert.deepEqual(Array.from(await r.readF32(b, 3)), [2, 2, 2]);
  const d = Object.fromEntries(Object.entries(r.counters).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
  // The read-back adds its own copy to the staging buffer and submits everything queued once.
  assert.deepEqual(d, { dispatches: 2, copies: 2, submits: 1, readbacks: 1, readBytes: 12 });
  r.release(a);
  r.release(b);
});
