/**
 * Test helpers: fresh random inputs, float64 comparisons with stated
 * tolerances, GPU availability, and finite-difference gradient checks.
 */
import { Runtime } from "../gpu/runtime.ts";
import { initTensors, type Tensor } from "../tensor/tensor.ts";
import { Rng } from "../core/rng.ts";
import { checkCanaries, enableCanaries } from "./_canary.ts";
import { notRunName } from "./_run.ts";

/** A fresh seed per run, printed on failure through the test name. */
export const SEED = Number(Deno.env.get("TAILOR_TEST_SEED") ?? (Date.now() % 1e9));

export function rng(salt = 0): Rng {
  return new Rng(SEED + salt);
}

/** Uniform values in [lo, hi) that are never exactly zero. */
export function randomArray(r: Rng, n: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = r.uniform(lo, hi);
    if (v === 0) v = (hi - lo) / 7 + lo;
    a[i] = v;
  }
  return a;
}

const gpuOk = await Runtime.available();
// Before any buffer exists: every pooled buffer of the test process gets a canary guard.
if (gpuOk) enableCanaries(await Runtime.get());

/**
 * Deno.test for code that needs a WebGPU adapter: ignored, with a message
 * saying so, when there is none. After the test, every buffer's guard
 * region is checked, so a kernel that wrote past the end of any buffer
 * fails the test that ran it.
 */
export function gpuTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({
    name: gpuOk ? name : notRunName(name, "no WebGPU adapter; install mesa-vulkan-drivers"),
    ignore: !gpuOk,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const r = await initTensors();
      await fn();
      await checkCanaries(r);
    },
  });
}

/**
 * Assert |got - want| <= atol + rtol * |want| elementwise, naming the first
 * index that fails.
 */
export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: { rtol?: number; atol?: number } = {},
  what = "value",
): void {
  const { rtol = 1e-5, atol = 1e-6 } = tol;
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  let worst = 0, worstI = -1;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
    if (!(err <= 0) && (worstI < 0 || err > worst || Number.isNaN(err))) {
      worst = err;
      worstI = i;
    }
  }
  if (worstI >= 0) {
    throw new Error(
      `${what}[${worstI}] = ${got[worstI]}, expected ${want[worstI]} (rtol ${rtol}, atol ${atol}, seed ${SEED})`,
    );
  }
}

/**
 * Central finite differences of a scalar function f64 of x (in place),
 * for the entries `indices` (all by default).
 */
export function numericGrad(
  f: (x: Float64Array) => number,
  x: Float64Array,
  eps = 1e-6,
  indices?: number[],
): Float64Array {
  const g = new Float64Array(x.length);
  for (const i of indices ?? x.keys()) {
    const v = x[i];
    x[i] = v + eps;
    const fp = f(x);
    x[i] = v - eps;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/** Read a tensor as float64. */
export async function read64(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.toArray());
}
