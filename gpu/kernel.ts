/**
 * The kernel protocol: a kernel is a value, a name, a WGSL generator, a
 * dispatch rule and a cache key, all functions of the kernel's parameters
 * (shapes, flags, tile sizes). The runtime compiles and dispatches any such
 * value; `kernels/` holds the project's. Shapes are baked into the source
 * as constants, which lets the compiler unroll and keeps bind groups small;
 * the key must cover every parameter that the source depends on.
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
