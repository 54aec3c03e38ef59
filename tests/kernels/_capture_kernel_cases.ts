/**
 * Regenerates the kernel parameters of `wgsl_cases.json` (not the loss
 * kernels, whose parameters `_loss_cases.ts` derives from the losses):
 * runs the GPU tests of tensor ops and model parts with the pipeline cache
 * patched to record every (kernel, parameters) it is asked for, and keeps a
 * few varied sets per registered kernel. Run it only to widen the cases:
 *
 * ```sh
 * deno test -A tests/kernels/_capture_kernel_cases.ts
 * deno run --allow-read --allow-write=tests/kernels tests/kernels/update_wgsl_hashes.ts
 * ```
 */
import { Runtime } from "../../gpu/runtime.ts";
import { KERNELS } from "../../kernels/registry.ts";
import { OP_CASES_FILE, type OpCase } from "./_wgsl_cases.ts";

const PER_KERNEL = 10;
const registered = new Set(KERNELS.map((k) => k.name));
const seen = new Map<string, Map<string, unknown>>();
const original = Runtime.prototype.pipeline;
Runtime.prototype.pipeline = function (kernel, params) {
  if (registered.has(kernel.name) && !kernel.name.startsWith("loss_")) {
    const json = JSON.stringify(params);
    if (!seen.has(kernel.name)) seen.set(kernel.name, new Map());
    seen.get(kernel.name)!.set(json, params);
  }
  return original.call(this, kernel, params);
};

const TESTS = [
  "../tensor/conv2d_test.ts",
  "../tensor/conv_gemm_test.ts",
  "../tensor/conv_transpose_test.ts",
  "../tensor/core_ops_test.ts",
  "../tensor/gemm_test.ts",
  "../tensor/group_norm_test.ts",
  "../tensor/optim_test.ts",
  "../tensor/pool_test.ts",
  "../tensor/shape_test.ts",
  "../tensor/softmax_test.ts",
  "../tensor/tiny_cnn_test.ts",
  "../model/roi_align_test.ts",
  "../model/nms_test.ts",
  "../model/smooth_l1_test.ts",
  "../model/detector_train_test.ts",
];
for (const t of TESTS) await import(t);

/** Parameters with large numbers (shapes) blanked: sets that differ only in shape share it. */
function signature(params: unknown): string {
  return JSON.stringify(params, (_, v) => typeof v === "number" && Math.abs(v) > 16 ? "n" : v);
}

globalThis.addEventListener("unload", () => {
  const cases: OpCase[] = [];
  for (const name of [...seen.keys()].sort()) {
    const all = [...seen.get(name)!.entries()].sort(([a], [b]) => a.localeCompare(b));
    const picked = new Map<string, unknown>();
    // One per signature first (every flag combination), then evenly spaced shapes.
    const bySig = new Map<string, [string, unknown]>();
    for (const e of all) if (!bySig.has(signature(e[1]))) bySig.set(signature(e[1]), e);
    for (const [json, p] of bySig.values()) if (picked.size < PER_KERNEL) picked.set(json, p);
    for (let k = 0; k < PER_KERNEL && picked.size < PER_KERNEL; k++) {
      const [json, p] = all[Math.floor((k * all.length) / PER_KERNEL)];
      picked.set(json, p);
    }
    for (const params of picked.values()) cases.push({ kernel: name, params });
  }
  Deno.writeTextFileSync(OP_CASES_FILE, JSON.stringify(cases, null, 2) + "\n");
  console.log(`${cases.length} cases of ${seen.size} kernels written to ${OP_CASES_FILE}`);
});
