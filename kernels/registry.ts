/**
 * Every kernel in kernels/, in one list: for documentation, for warming
 * the pipeline cache, and for a test that no kernel file is left out.
 * Modules are collected whole (every exported kernel value), so adding a
 * kernel to a listed file needs no edit here; adding a file needs one line.
 *
 * @example
 * ```ts
 * import { KERNELS } from "./registry.ts";
 * console.log(KERNELS.map((k) => `${k.name} (${k.file})`).join("\n"));
 * ```
 */
import type { Kernel } from "./kernel.ts";
import * as conv2d from "./conv2d.ts";
import * as conv2dGrad from "./conv2d_grad.ts";
import * as conv2dLayout from "./conv2d_layout.ts";
import * as convTranspose from "./conv_transpose.ts";
import * as copy from "./copy.ts";
import * as im2col from "./im2col.ts";
import * as gemm from "./gemm.ts";
import * as gemmTexture from "./gemm_texture.ts";
import * as groupNorm from "./group_norm.ts";
import * as map from "./map.ts";
import * as nms from "./nms.ts";
import * as optim from "./optim.ts";
import * as pool from "./pool.ts";
import * as reduce from "./reduce.ts";
import * as relu from "./relu.ts";
import * as roiAlign from "./roi_align.ts";
import * as smoothL1 from "./smooth_l1.ts";
import * as softmax from "./softmax.ts";
import * as upsample from "./upsample.ts";
import * as lossFinalize from "./losses/loss_finalize.ts";
import * as lossScores from "./losses/loss_scores.ts";
import * as sigmoidFused from "./losses/sigmoid_fused.ts";
import * as softmaxFused from "./losses/softmax_fused.ts";

/** A kernel with the export name and file (relative to kernels/) it comes from. */
export interface RegisteredKernel {
  name: string;
  exportName: string;
  file: string;
  // deno-lint-ignore no-explicit-any
  kernel: Kernel<any>;
}

const MODULES: Record<string, Record<string, unknown>> = {
  "conv2d.ts": conv2d,
  "conv2d_grad.ts": conv2dGrad,
  "conv2d_layout.ts": conv2dLayout,
  "conv_transpose.ts": convTranspose,
  "copy.ts": copy,
  "im2col.ts": im2col,
  "gemm.ts": gemm,
  "gemm_texture.ts": gemmTexture,
  "group_norm.ts": groupNorm,
  "map.ts": map,
  "nms.ts": nms,
  "optim.ts": optim,
  "pool.ts": pool,
  "reduce.ts": reduce,
  "relu.ts": relu,
  "roi_align.ts": roiAlign,
  "smooth_l1.ts": smoothL1,
  "softmax.ts": softmax,
  "upsample.ts": upsample,
  "losses/loss_finalize.ts": lossFinalize,
  "losses/loss_scores.ts": lossScores,
  "losses/sigmoid_fused.ts": sigmoidFused,
  "losses/softmax_fused.ts": softmaxFused,
};

/** Whether a value is a kernel description (name, WGSL generator, dispatch rule). */
// deno-lint-ignore no-explicit-any
export function isKernel(v: unknown): v is Kernel<any> {
  const k = v as Record<string, unknown> | null;
  return !!k && typeof k === "object" && typeof k.name === "string" && typeof k.wgsl === "function" &&
    typeof k.dispatch === "function";
}

/** Every kernel, sorted by file then export name. */
export const KERNELS: readonly RegisteredKernel[] = Object.entries(MODULES).flatMap(([file, mod]) =>
  Object.entries(mod)
    .filter(([, v]) => isKernel(v))
    // deno-lint-ignore no-explicit-any
    .map(([exportName, v]) => ({ name: (v as Kernel<any>).name, exportName, file, kernel: v as Kernel<any> }))
).sort((a, b) => a.file.localeCompare(b.file) || a.exportName.localeCompare(b.exportName));

/** The files the registry covers, relative to kernels/. */
export const KERNEL_FILES: readonly string[] = Object.keys(MODULES);

/** The kernel registered under `name` (the name shown in errors and timings). */
// deno-lint-ignore no-explicit-any
export function kernelByName(name: string): Kernel<any> {
  const k = KERNELS.find((e) => e.name === name);
  if (!k) {
    throw new Error(`No kernel is named ${JSON.stringify(name)}; known: ${KERNELS.map((e) => e.name).join(", ")}`);
  }
  return k.kernel;
}
