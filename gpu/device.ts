// The device gets the adapter's full limits: the defaults cap buffers at 256 MiB and workgroups at 256 invocations.

export class GpuUnavailableError extends Error {
  override name = "GpuUnavailableError";
}

export interface AdapterReport {
  description: string;
  vendor: string;
  architecture: string;
  backend: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface GpuDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
  hasTimestamps: boolean;
}

const HINT = "install Mesa's Vulkan driver (apt-get install mesa-vulkan-drivers), set XDG_RUNTIME_DIR, " +
  "and pick a backend with DENO_WEBGPU_BACKEND=vulkan|gl";

function vulkanManifestDirs(env: (name: string) => string | undefined): string[] {
  const home = env("XDG_DATA_HOME") || (env("HOME") ? `${env("HOME")}/.local/share` : "");
  const data = [home, ...(env("XDG_DATA_DIRS") || "/usr/local/share:/usr/share").split(":")].filter(Boolean);
  return [...new Set(["/etc/vulkan/icd.d", ...data.map((d) => `${d.replace(/\/$/, "")}/vulkan/icd.d`)])];
}

/**
 * DENO_WEBGPU_BACKEND when the user set none: "vulkan" where a Vulkan driver is installed, since Deno's default
 * also loads GL through EGL, whose destructor races other threads at exit (glibc aborts in ~1 test run in 7);
 * "gl" on Linux without one (texture layout and advice depend on it); else null. Reads only granted paths.
 */
export function preferredBackend(
  env: (name: string) => string | undefined = envGranted,
  listDir: (dir: string) => string[] = (d) => [...Deno.readDirSync(d)].map((e) => e.name),
  os: string = Deno.build.os,
): "vulkan" | "gl" | null {
  if (env("VK_DRIVER_FILES") || env("VK_ICD_FILENAMES")) return "vulkan";
  let unknown = false;
  for (const dir of vulkanManifestDirs(env)) {
    try {
      if (Deno.permissions.querySync({ name: "read", path: dir }).state !== "granted") {
        unknown = true;
        continue;
      }
      if (listDir(dir).some((f) => f.endsWith(".json"))) return "vulkan";
    } catch {
      // A folder that is missing or unreadable has no driver for us.
    }
  }
  return os === "linux" && !unknown ? "gl" : null;
}

/** One line of advice about the adapter (GL works, slowly, without a Vulkan driver), or undefined. */
export function adapterAdvice(report: Pick<AdapterReport, "backend">): string | undefined {
  if (report.backend !== "gl") return undefined;
  return "WebGPU runs on the OpenGL backend, the slow fallback used when no Vulkan driver is found: " +
    "install Mesa's Vulkan driver (apt-get install mesa-vulkan-drivers) for the faster Vulkan adapter";
}

/** Environment access that never prompts: undefined where --allow-env does not cover the name. */
function envGranted(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name)
    : undefined;
}

/** Set DENO_WEBGPU_BACKEND unless the user did (Deno reads it at the first adapter request); returns it. */
function chooseBackend(): string {
  const name = "DENO_WEBGPU_BACKEND";
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return "default";
  const set = Deno.env.get(name);
  if (set) return set;
  const preferred = preferredBackend();
  if (!preferred) return "default";
  Deno.env.set(name, preferred);
  return preferred;
}

/** The adapter tailor would use, for a run's manifest; chooses the backend first, as Deno fixes it at once. */
export async function describeDefaultAdapter(): Promise<
  { description: string; vendor: string; backend: string; isFallbackAdapter: boolean; advice?: string } | undefined
> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return undefined;
  const backend = chooseBackend();
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return undefined;
    const info = adapter.info;
    const advice = adapterAdvice({ backend });
    return {
      description: info.description || info.device || "unknown adapter",
      vendor: info.vendor,
      backend,
      isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      ...(advice ? { advice } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Request the adapter and a device with its full limits. */
export async function acquireDevice(): Promise<GpuDevice> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new GpuUnavailableError(`WebGPU is not available in this runtime (no navigator.gpu): ${HINT}`);
  const backend = chooseBackend();
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    throw new GpuUnavailableError(`No WebGPU adapter (${(e as Error).message.split("\n")[0]}): ${HINT}`);
  }
  if (!adapter) throw new GpuUnavailableError(`No WebGPU adapter was found (backend ${backend}): ${HINT}`);
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
    backend,
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
