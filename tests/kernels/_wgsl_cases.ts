/**
 * The kernels and parameters whose generated WGSL `wgsl_hashes_test.ts`
 * pins: the ops' kernels with parameters recorded from the op tests
 * (`wgsl_op_params.json`, written by `_capture_kernel_cases.ts`), and every
 * loss's kernels with the parameters its GPU loss derives for a step.
 */
import { fileURLToPath } from "node:url";
import { kernelByName } from "../../kernels/registry.ts";
import type { Kernel } from "../../kernels/kernel.ts";
import { lossApplyKernel, lossColumnsKernel, lossSumKernel } from "../../kernels/losses/loss_finalize.ts";
import { lossScoresKernel } from "../../kernels/losses/loss_scores.ts";
import { rowBlockPlan } from "../../kernels/losses/row_blocks.ts";
import { sigmoidFusedKernel } from "../../kernels/losses/sigmoid_fused.ts";
import { seesawCountKernel, softmaxFusedKernel, softmaxRowKernel } from "../../kernels/losses/softmax_fused.ts";
import { type LossName, lossNames, parseLossParams } from "../../losses/params.ts";
import { softmaxConfig } from "../../losses/reference_softmax.ts";
import { sigmoidConfig, type SigmoidKind } from "../../losses/sigmoid_config.ts";

export const OP_CASES_FILE = fileURLToPath(new URL("./wgsl_op_params.json", import.meta.url));
export const HASHES_FILE = fileURLToPath(new URL("./wgsl_hashes.json", import.meta.url));

/** A registered kernel and parameters recorded from a test. */
export interface OpCase {
  kernel: string;
  params: unknown;
}

/** One WGSL source to pin, under a stable label. */
export interface WgslCase {
  label: string;
  // deno-lint-ignore no-explicit-any
  kernel: Kernel<any>;
  params: unknown;
}

/** Loss parameters away from the defaults, fixed so that the WGSL is too. */
function lossParams(name: LossName, c: number, variant: number): Record<string, unknown> {
  const counts = Array.from({ length: c }, (_, j) => 1 + ((j * 37) % 200));
  const v = variant === 1;
  switch (name) {
    case "bce":
      return { loss_weight: v ? 0.75 : 1, background_channel: !v };
    case "ce":
      return { loss_weight: v ? 1.5 : 1 };
    case "focal":
      return v ? { gamma: 1.5, alpha: 0.3 } : {};
    case "eqlv2":
      return v ? { gamma: 10, mu: 0.7, alpha: 3, test_with_obj: false } : {};
    case "eql":
      return { lambda: v ? 0.05 : 0.00177, image_counts: counts, num_images: 400 };
    case "seesaw":
      return v ? { p: 0.6, q: 1.5, eps: 0.02, loss_weight: 2 } : {};
    case "federated":
      return { image_counts: counts, num_sample_cats: v ? 5 : 50, freq_weight_power: v ? 1 : 0.5 };
    case "efl":
      return v ? { gamma_b: 1.5, alpha: 0.3, s: 6 } : {};
  }
}

/** Category counts whose column counts fall on every vec4 layout (whole vec4s, pairs, odd). */
const CATEGORIES = [1, 6, 7, 8, 1203];
const ROWS = [3, 70];

/** The kernels of one loss step and its scores, as the GPU loss dispatches them. */
function lossStepCases(name: LossName, c: number, variant: number, rows: number, weights: boolean): WgslCase[] {
  const tag = `${name} v${variant} c=${c} rows=${rows}${weights ? " weights" : ""}`;
  const raw = lossParams(name, c, variant);
  const out: WgslCase[] = [];
  let columns: number, slots: number, clampRatio: boolean, mode: string;
  if (name === "ce" || name === "seesaw") {
    const cfg = softmaxConfig(name, parseLossParams(name, raw), c);
    const { kind, lossWeight, p, q, eps } = cfg;
    columns = cfg.columns;
    const params = { kind, rows, numClasses: c, columns, lossWeight, p, q, eps };
    if (name === "seesaw") {
      out.push({ label: `${tag} counts`, kernel: seesawCountKernel, params: { rows, numClasses: c } });
    }
    out.push({ label: `${tag} rows`, kernel: softmaxRowKernel, params });
    const plan = rowBlockPlan({ ...params, rowsPerChunk: 32, writeWeights: weights }, columns, rows);
    plan.dispatches.forEach((d, i) => out.push({ label: `${tag} fused ${i}`, kernel: softmaxFusedKernel, params: d }));
    slots = plan.slots;
    clampRatio = false;
    mode = name === "ce" ? "softmax" : "seesaw";
  } else {
    const kind = name as SigmoidKind;
    const cfg = sigmoidConfig(kind, parseLossParams(kind, raw), c);
    const { gamma, mu, alpha, s } = cfg;
    columns = cfg.columns;
    const kernelCfg = { kind, numClasses: c, columns, gamma, mu, alpha, s };
    const plan = rowBlockPlan({ cfg: kernelCfg, rowsPerChunk: 32, writeWeights: weights }, columns, rows);
    plan.dispatches.forEach((d, i) => out.push({ label: `${tag} fused ${i}`, kernel: sigmoidFusedKernel, params: d }));
    slots = plan.slots;
    clampRatio = kind === "efl";
    mode = cfg.scoresWithObj ? "sigmoid_obj" : "sigmoid";
  }
  // The reductions and scores do not depend on the loss parameters or on the weights.
  if (variant === 1 || weights) return out;
  for (const apply of [true, false]) {
    out.push({
      label: `${tag} columns${apply ? "" : " hooked"}`,
      kernel: lossColumnsKernel,
      params: { columns, numClasses: c, chunks: slots, apply, clampRatio },
    });
  }
  out.push({ label: `${tag} sum`, kernel: lossSumKernel, params: { columns } });
  out.push({ label: `${tag} apply`, kernel: lossApplyKernel, params: { numClasses: c, clampRatio } });
  out.push({ label: `${tag} scores`, kernel: lossScoresKernel, params: { mode, rows, columns, numClasses: c } });
  return out;
}

/** Every loss, two parameter sets, every column layout, 3 and 70 rows, with and without weights. */
export function lossCases(): WgslCase[] {
  const out: WgslCase[] = [];
  for (const name of lossNames) {
    for (const variant of [0, 1]) {
      for (const c of CATEGORIES) {
        if (name === "seesaw" && c === 1) continue;
        for (const rows of ROWS) {
          for (const weights of rows === 70 ? [false, true] : [false]) {
            out.push(...lossStepCases(name, c, variant, rows, weights));
          }
        }
      }
    }
  }
  return out;
}

/** The ops' kernels with their recorded parameters. */
export function opCases(): WgslCase[] {
  const recorded: OpCase[] = JSON.parse(Deno.readTextFileSync(OP_CASES_FILE));
  const index = new Map<string, number>();
  return recorded.map(({ kernel, params }) => {
    const i = index.get(kernel) ?? 0;
    index.set(kernel, i + 1);
    return { label: `${kernel} #${i}`, kernel: kernelByName(kernel), params };
  });
}

/** The first 16 hex digits of the SHA-256 of each case's WGSL, by label. */
export async function wgslHashes(cases: WgslCase[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of cases) {
    if (c.label in out) throw new Error(`Duplicate WGSL case label ${c.label}`);
    const bytes = new TextEncoder().encode(c.kernel.wgsl(c.params));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    out[c.label] = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return out;
}
