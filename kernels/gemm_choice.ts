// CPU adapters (llvmpipe, SwiftShader, WARP) run a workgroup on one thread and pay for every barrier: they get the
// register-blocked GEMM, real GPUs the tiled one. `TAILOR_GEMM=blocked|tiled` overrides.
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

/** `TAILOR_GEMM` if set, else "blocked" on CPU adapters and "tiled" on GPUs. */
export function chooseGemm(report: Pick<AdapterReport, "isFallbackAdapter" | "description">): GemmVariant {
  const env = _envVariant();
  if (env) return env;
  return report.isFallbackAdapter || CPU_ADAPTER.test(report.description) ? "blocked" : "tiled";
}

/** Call once, after acquiring the device. */
export function configureGemm(variant: GemmVariant): void {
  configured = variant;
}

let fromEnv: GemmVariant | null | undefined;

/** The configured variant (already resolved against the environment), else `TAILOR_GEMM`, else "blocked". */
export function currentGemmVariant(): GemmVariant {
  if (configured) return configured;
  if (fromEnv === undefined) fromEnv = _envVariant();
  return fromEnv ?? "blocked";
}
