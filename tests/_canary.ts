/**
 * Canaries for every GPU test: the pool gives each buffer a guard region
 * after its end (`BufferPool.enableGuards`), filled with words that differ
 * per buffer and per position, and `checkCanaries()` reads every guard back
 * after the test. A kernel that stores one element too far writes into the
 * guard instead of being clipped by the device's bounds checks. Reads: up
 * to the next 16 bytes the words are huge finite floats (the pool's
 * rounding lets a vec4 load cover them, so they must only ever be
 * multiplied by zero or discarded); past that they are NaN, so a kernel
 * that reads further fails the value checks. `guardedOutput` adds a guard
 * before the data too, for kernels that write at an offset.
 */
import type { Runtime } from "../gpu/runtime.ts";

/** Guard bytes after every buffer: a whole row of most test outputs, so a row-too-far store lands in it. */
export const CANARY_BYTES = 256;

/**
 * The guard word at `index` of a buffer whose data ends at word `end`: about 1e30 within the
 * data's last vec4, a quiet NaN after it; the low bits name the buffer and the position, so
 * that no copied guard matches another.
 */
export function canaryWord(serial: number, index: number, end: number): number {
  const bits = (serial * 97 + index * 13 + 0x2a5) & 0x3fff;
  return (index < Math.ceil(end / 4) * 4 ? 0x71490000 | bits : 0x7fc00000 | bits) >>> 0;
}

/** Turn the guards on; call before any buffer is allocated. */
export function enableCanaries(r: Runtime): void {
  r.pool.enableGuards(CANARY_BYTES, canaryWord);
}

/**
 * Read every guard back and throw, naming the buffer, its size and the first word past its end
 * that a kernel overwrote. The guards are refilled, so one bad kernel fails one test.
 */
export async function checkCanaries(r: Runtime): Promise<void> {
  const regions = r.pool.guarded();
  if (regions.length === 0) return;
  const bytes = regions[0].bytes;
  const staging = r.device.createBuffer({
    size: regions.length * bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  regions.forEach((g, k) => r.copy(g.buffer, staging, bytes, g.offset, k * bytes));
  r.flush();
  await staging.mapAsync(GPUMapMode.READ);
  const words = new Uint32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  const broken: string[] = [];
  regions.forEach((g, k) => {
    const n = bytes / 4;
    const end = g.offset / 4;
    const want = Uint32Array.from({ length: n }, (_, i) => canaryWord(g.serial, end + i, end));
    const first = want.findIndex((w, i) => words[k * n + i] !== w);
    if (first < 0) return;
    const count = want.reduce((c, w, i) => c + (words[k * n + i] !== w ? 1 : 0), 0);
    const value = new Float32Array(words.buffer, (k * n + first) * 4, 1)[0];
    broken.push(
      `buffer "${g.buffer.label}" of ${g.offset / 4} floats: ${count} guard words overwritten, ` +
        `the first at element ${g.offset / 4 + first} (value ${value})`,
    );
    r.write(g.buffer, want, g.offset);
  });
  if (broken.length > 0) throw new Error(`A kernel wrote past the end of a buffer: ${broken.join("; ")}`);
}

/**
 * A buffer whose data starts after `before` guard floats and ends before `after` more, all
 * filled with canary words: for a kernel that writes at an offset into a larger buffer.
 * `check()` throws naming the first overwritten guard element, before or after the data.
 */
export function guardedOutput(
  r: Runtime,
  opts: { before: number; data: Float32Array; after: number },
): { buffer: GPUBuffer; offset: number; check(): Promise<void> } {
  const { before, data, after } = opts;
  const all = new Uint32Array(before + data.length + after);
  for (let i = 0; i < before; i++) all[i] = canaryWord(0xbef, i, 0);
  all.set(new Uint32Array(data.buffer, data.byteOffset, data.length), before);
  for (let i = 0; i < after; i++) all[before + data.length + i] = canaryWord(0xaf7, i, 0);
  const buffer = r.upload(all, "guarded output");
  return {
    buffer,
    offset: before,
    async check() {
      const got = new Uint32Array(await r.read(buffer, all.byteLength));
      for (let i = 0; i < all.length; i++) {
        if (i >= before && i < before + data.length) continue;
        if (got[i] !== all[i]) {
          const where = i < before ? `${before - i} before the data` : `${i - before - data.length + 1} after the data`;
          throw new Error(`A kernel overwrote a guard element ${where} (element ${i})`);
        }
      }
    },
  };
}
