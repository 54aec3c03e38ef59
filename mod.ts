/**
 * tailor: long-tailed object detection on WebGPU.
 *
 * Trains R-CNN-style detectors for long-tailed vocabularies (LVIS) with
 * Equalization Loss v2 and its relatives on hand-written WGSL kernels, and
 * evaluates them exactly as the LVIS API does.
 *
 * @example
 * ```ts
 * import { initTensors, matmul, Tensor } from "./mod.ts";
 * await initTensors();
 * const a = Tensor.from([1, 2, 3, 4], [2, 2]);
 * console.log(await matmul(a, a).toArray()); // [7, 10, 15, 22]
 * ```
 * @module
 */
export { acquireDevice, type AdapterReport, describeAdapter, GpuUnavailableError } from "./gpu/device.ts";
export { GpuError, Runtime } from "./gpu/runtime.ts";
export { defineKernel, type Kernel } from "./kernels/kernel.ts";
export { initTensors, type Shape, Tensor, tidy, tidyAsync } from "./tensor/tensor.ts";
export { isGradEnabled, noGrad } from "./tensor/autograd.ts";
export * from "./tensor/ops.ts";
export { InputError } from "./core/errors.ts";
export { Rng } from "./core/rng.ts";
