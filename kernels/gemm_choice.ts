/**
 * Which GEMM implementation suits the adapter. CPU adapters (llvmpipe,
 * SwiftShader, WARP) run each workgroup on one thread and pay for every
 * barrier, so they get the register-blocked kernel; real GPUs get the
 * workgroup-memory tiled one. `TAILOR_GEMM=blocked|tiled` overrides.
 *
 * @example
 * ```ts
 * import { chooseGemm, configureGemm } from "./gemm_choice.ts";
 * configureGemm(chooseGemm({ isFallbackAdapter: true, description: "llvmpipe" })); // "blocked"
 * ```
 */
import type { AdapterReport } from "../gpu/device.ts";
import { InputError, quote } from "../core/errors.ts";

export type GemmVariant = "blocked" | "tiled";

const VARIANTS: readonly GemmVariant[] = ["blocked", "tiled"];
const CPU_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|warp|cpu/i;

let configured: GemmVariant | null = null;

function _envVariant(): GemmVariant | null {
  let v: string | undefined;
  try {
    v = Deno.env.get("TAILOR_GEMM");
  } catch {
    return null; // no --allow-env: nothing was overridden
  }
  if (v === undefined || v === "") return null;
  if (!(VARIANTS as readonly string[]).includes(v)) {
    throw new InputError(`Cannot use TAILOR_GEMM=${quote(v)}: expected "blocked" or "tiled"`);
  }
  return v as GemmVariant;
}

/**
 * The GEMM variant for an adapter: `TAILOR_GEMM` if set, else "blocked" on
 * CPU adapters and "tiled" on GPUs.
 *
 * @param report the adapter's report (`Runtime.report`)
 * @returns "blocked" or "tiled"
 */
export function chooseGemm(report: Pick<AdapterReport, "isFallbackAdapter" | "description">): GemmVariant {
  const env = _envVariant();
  if (env) return env;
  return report.isFallbackAdapter || CPU_ADAPTER.test(report.description) ? "blocked" : "tiled";
}

/** Make `variant` the default of `gemmKernel` (call once, after acquiring the device). */
export function configureGemm(variant: GemmVariant): void {
  configured = variant;
}

let fromEnv: GemmVariant | null | undefined;

/**
 * The variant `gemmKernel` uses when its parameters name none: the one
 * configured (which `chooseGemm` already resolved against the environment),
 * else `TAILOR_GEMM` (read once), else "blocked".
 */
export function currentGemmVariant(): GemmVariant {
  if (configured) return configured;
  if (fromEnv === undefined) fromEnv = _envVariant();
  return fromEnv ?? "blocked";
}
