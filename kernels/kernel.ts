// The kernel protocol (in `gpu/`, beside the runtime) and WGSL helpers.
export { defineKernel, type Kernel } from "../gpu/kernel.ts";

export function groups(n: number, size: number): number {
  return Math.max(1, Math.ceil(n / size));
}

const MAX_GROUPS = 65535;

/** Split a 1-D dispatch into x and y under the 65535-workgroup limit; kernels recover the index with `flatIndex`. */
export function grid1d(n: number, wg: number): [number, number, number] {
  const g = groups(n, wg);
  return g <= MAX_GROUPS ? [g, 1, 1] : [MAX_GROUPS, Math.ceil(g / MAX_GROUPS), 1];
}

export function flatIndex(gid: string, wg: number): string {
  return `${gid}.x + ${gid}.y * ${MAX_GROUPS * wg}u`;
}

/** WGSL text of a float constant that always parses as f32. */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`Non-finite WGSL constant ${x}`);
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? s : s + ".0";
}
