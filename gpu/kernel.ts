/**
 * A kernel is a value: name, WGSL generator, dispatch rule and cache key, all functions of its parameters.
 * Shapes are baked in as constants (the compiler unrolls), so the key must cover every parameter the source reads.
 * Storage buffers bind as `@group(0) @binding(i)` in dispatch order; an optional uniform block comes after them.
 */
export interface Kernel<P> {
  name: string;
  wgsl(p: P): string;
  dispatch(p: P): [number, number, number];
  /** Pipeline cache key; defaults to the name plus JSON of the parameters. */
  key?(p: P): string;
}

/**
 * Define a kernel; the identity, for inference of the parameter type.
 *
 * @example
 * ```ts
 * const fill = defineKernel<{ n: number }>({
 *   name: "fill",
 *   wgsl: ({ n }) => `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
 * @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < ${n}u) { Y[g.x] = 1.0; } }`,
 *   dispatch: ({ n }) => [Math.ceil(n / 64), 1, 1],
 * });
 * ```
 */
export function defineKernel<P>(k: Kernel<P>): Kernel<P> {
  return k;
}
