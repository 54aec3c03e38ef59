/**
 * What a kernel file needs: the kernel protocol (`Kernel`, `defineKernel`,
 * defined in `gpu/kernel.ts`, where the runtime that runs kernels sits) and
 * helpers for writing WGSL (workgroup counts, large 1-D grids, constants).
 */
export { defineKernel, type Kernel } from "../gpu/kernel.ts";

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
