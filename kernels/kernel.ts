/**
 * A kernel is a value: a name, a WGSL generator, a dispatch rule and a cache
 * key, all functions of the kernel's parameters (shapes, flags, tile sizes).
 * Shapes are baked into the source as constants, which lets the compiler
 * unroll and keeps bind groups small; the key must cover every parameter
 * that the source depends on.
 *
 * Binding convention: storage buffers are `@group(0) @binding(i)` in the
 * order they are passed to `Runtime.dispatch`; an optional uniform block
 * comes right after them.
 */
export interface Kernel<P> {
  /** Shown in errors and timings. */
  name: string;
  /** The WGSL source for these parameters. */
  wgsl(p: P): string;
  /** Workgroup counts along x, y, z. */
  dispatch(p: P): [number, number, number];
  /** Pipeline cache key; defaults to the name plus JSON of the parameters. */
  key?(p: P): string;
}

/** Define a kernel; the identity, for inference of the parameter type. */
export function defineKernel<P>(k: Kernel<P>): Kernel<P> {
  return k;
}

/** Workgroups needed to cover `n` items with `size` per workgroup. */
export function groups(n: number, size: number): number {
  return Math.max(1, Math.ceil(n / size));
}

/** Workgroups per dispatch dimension that every adapter allows. */
const MAX_GROUPS = 65535;

/**
 * Split a large 1-D dispatch into x and y so that neither exceeds the
 * 65535-workgroup limit; kernels recover the linear index with `flatIndex`.
 */
export function grid1d(n: number, wg: number): [number, number, number] {
  const g = groups(n, wg);
  return g <= MAX_GROUPS ? [g, 1, 1] : [MAX_GROUPS, Math.ceil(g / MAX_GROUPS), 1];
}

/**
 * WGSL for the linear invocation index of a `grid1d` dispatch, from the
 * global invocation id named `gid` of a kernel with `wg` invocations per workgroup.
 */
export function flatIndex(gid: string, wg: number): string {
  return `${gid}.x + ${gid}.y * ${MAX_GROUPS * wg}u`;
}

/** WGSL text of a float constant that always parses as f32. */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`Non-finite WGSL constant ${x}`);
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? s : s + ".0";
}
