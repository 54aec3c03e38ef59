/**
 * The kernels and parameters whose generated WGSL `wgsl_hashes_test.ts`
 * pins: the ops' kernels with parameters recorded from the op tests
 * (`wgsl_op_params.json`, written by `_capture_kernel_cases.ts`), and every
 * registered loss's kernels with the parameters its GPU loss dispatches.
 */
import { fileURLToPath } from "node:url";
import { kernelByName } from "../../kernels/registry.ts";
import type { Kernel } from "../../kernels/kernel.ts";
import { lossNames } from "../../losses/registry.ts";
import { createLoss } from "../../losses/registry.ts";
import { initTensors, Tensor } from "../../tensor/tensor.ts";
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
function lossParams(name: string, c: number, variant: number): Record<string, unknown> {
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
    case "bags":
      return v
        ? { instance_counts: counts, group_bounds: [5, 50], others_sample_ratio: 2, loss_weight: 0.5 }
        : { instance_counts: counts };
    default:
      return {};
  }
}

/** Category counts whose column counts fall on every vec4 layout (whole vec4s, pairs, odd). */
const CATEGORIES = [1, 6, 7, 8, 1203];
const ROWS = [3, 70];

/** Label suffixes of the kernels of a loss step, in the order the cases list them. */
const STEP_KERNELS: [string, string][] = [
  ["loss_seesaw_counts", "counts"],
  ["loss_softmax_rows", "rows"],
  ["loss_sigmoid_fused", "fused"],
  ["loss_softmax_fused", "fused"],
  ["loss_columns", "columns"],
  ["loss_sum", "sum"],
  ["loss_apply_stats", "apply"],
  ["loss_scores", "scores"],
];

/**
 * The kernels that one step of a GPU loss and its scores dispatch, recorded with
 * `Runtime.dispatch` patched to record instead of run; needs an adapter.
 */
async function lossStepCases(name: string, c: number, variant: number, rows: number, weights: boolean) {
  const tag = `${name} v${variant} c=${c} rows=${rows}${weights ? " weights" : ""}`;
  const r = await initTensors();
  const loss = createLoss(name, lossParams(name, c, variant), { numClasses: c });
  const x = new Tensor([rows, loss.columns]);
  const labels = Int32Array.from({ length: rows }, (_, i) => i % (c + 1));
  const recorded: { kernel: Kernel<unknown>; params: unknown; hooked: boolean }[] = [];
  let hooked = false;
  const dispatch = r.dispatch;
  r.dispatch = <P>(kernel: Kernel<P>, params: P) => {
    recorded.push({ kernel: kernel as Kernel<unknown>, params, hooked });
  };
  try {
    const step = loss.forward(x, labels, { weights });
    for (const t of [step.loss, step.grad, step.weight]) t?.dispose();
    loss.scores(x).dispose();
    // A step with an all-reduce hook sums and applies its statistics in two passes.
    hooked = true;
    loss.allReduce = () => {};
    const again = loss.forward(x, labels, { weights });
    for (const t of [again.loss, again.grad, again.weight]) t?.dispose();
  } finally {
    r.dispatch = dispatch;
    x.dispose();
    loss.dispose();
  }
  const order = new Map(STEP_KERNELS.map(([k, s], i) => [k, [i, s] as const]));
  let fused = 0;
  const out: WgslCase[] = [];
  for (const e of recorded) {
    const [, suffix] = order.get(e.kernel.name) ?? [0, e.kernel.name];
    // The reductions and scores do not depend on the loss parameters or on the weights.
    const perStep = suffix === "counts" || suffix === "rows" || suffix === "fused";
    if (!perStep && (variant === 1 || weights)) continue;
    if (e.hooked && suffix !== "columns" && suffix !== "apply") continue;
    const label = `${tag} ${suffix}${suffix === "fused" ? ` ${fused++}` : ""}${e.hooked ? " hooked" : ""}`;
    out.push({ label: label.replace(" apply hooked", " apply"), kernel: e.kernel, params: e.params });
  }
  const rank = (c: WgslCase) => order.get(c.kernel.name)?.[0] ?? -1;
  return out.sort((a, b) =>
    rank(a) - rank(b) || Number(a.label.endsWith("hooked")) - Number(b.label.endsWith("hooked"))
  );
}

/** Every loss, two parameter sets, every column layout, 3 and 70 rows, with and without weights. */
export async function lossCases(): Promise<WgslCase[]> {
  const out: WgslCase[] = [];
  for (const name of lossNames) {
    for (const variant of [0, 1]) {
      for (const c of CATEGORIES) {
        if (name === "seesaw" && c === 1) continue;
        for (const rows of ROWS) {
          for (const weights of rows === 70 ? [false, true] : [false]) {
            out.push(...await lossStepCases(name, c, variant, rows, weights));
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
