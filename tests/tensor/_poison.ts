/**
 * Poisoned buffers for kernel tests: fill pooled buffers of a given size
 * with NaN and hand them back, so the next tensors of that size start as
 * NaN and any element a kernel forgets to write fails the comparison.
 */
import { rt } from "../../tensor/tensor.ts";

/** Poison the next `count` pooled buffers holding `elements` f32 values. */
export function poisonPool(elements: number, count = 4): void {
  const r = rt();
  const bufs = Array.from({ length: count }, () => r.buffer(elements * 4, "poison"));
  // Only the usable part: the canary guard after it must stay as the pool wrote it.
  const nan = new Float32Array(elements).fill(NaN);
  for (const b of bufs) r.write(b, nan);
  for (const b of bufs) r.release(b);
}
