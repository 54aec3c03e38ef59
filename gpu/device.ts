/**
 * Adapter and device acquisition. The device is requested with the adapter's
 * full limits (the defaults cap buffers at 256 MiB and workgroups at 256
 * invocations), and every way of not getting one is a one-line error that
 * says what to install or set.
 */

/** No usable WebGPU adapter or device; the message says what to do. */
export class GpuUnavailableError extends Error {
  override name = "GpuUnavailableError";
}

/** What the adapter is, for logs, manifests and benchmark tables. */
export interface AdapterReport {
  description: string;
  vendor: string;
  architecture: string;
  backend: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** An acquired device with its adapter's report. */
export interface GpuDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
  hasTimestamps: boolean;
}

const HINT = "install Mesa's Vulkan driver (apt-get install mesa-vulkan-drivers), set XDG_RUNTIME_DIR, " +
  "and pick a backend with DENO_WEBGPU_BACKEND=vulkan|gl";

/** Request the adapter and a device with its full limits. */
export async function acquireDevice(): Promise<GpuDevice> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new GpuUnavailableError(`WebGPU is not available in this runtime (no navigator.gpu): ${HINT}`);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    throw new GpuUnavailableError(`No WebGPU adapter (${(e as Error).message.split("\n")[0]}): ${HINT}`);
  }
  if (!adapter) throw new GpuUnavailableError(`No WebGPU adapter was found: ${HINT}`);
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") limits[key] = v;
  }
  const wanted: GPUFeatureName[] = ["timestamp-query", "shader-f16"];
  const features = wanted.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits: limits, requiredFeatures: features });
  } catch (e) {
    throw new GpuUnavailableError(
      `The WebGPU adapter refused a device (${(e as Error).message.split("\n")[0]}): ${HINT}`,
    );
  }
  const info = adapter.info;
  const report: AdapterReport = {
    description: info.description || info.device || "unknown adapter",
    vendor: info.vendor,
    architecture: info.architecture,
    backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
    isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: [...adapter.features].sort(),
    limits,
  };
  return { adapter, device, report, hasTimestamps: features.includes("timestamp-query") };
}

/** One line describing the adapter, e.g. for a log header. */
export function describeAdapter(r: AdapterReport): string {
  const mb = (n: number | undefined) => n === undefined ? "?" : `${Math.round(n / 2 ** 20)} MiB`;
  return `${r.description} (backend ${r.backend}${r.isFallbackAdapter ? ", software fallback" : ""}; ` +
    `max buffer ${mb(r.limits.maxBufferSize)}, max invocations per workgroup ` +
    `${r.limits.maxComputeInvocationsPerWorkgroup ?? "?"})`;
}
