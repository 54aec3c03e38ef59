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

/** Folders where the Vulkan loader looks for driver manifests on Linux (the user's, XDG_DATA_DIRS, the fixed ones). */
function vulkanManifestDirs(env: (name: string) => string | undefined): string[] {
  const home = env("XDG_DATA_HOME") || (env("HOME") ? `${env("HOME")}/.local/share` : "");
  const data = [home, ...(env("XDG_DATA_DIRS") || "/usr/local/share:/usr/share").split(":")].filter(Boolean);
  return [...new Set(["/etc/vulkan/icd.d", ...data.map((d) => `${d.replace(/\/$/, "")}/vulkan/icd.d`)])];
}

/**
 * The backend to ask Deno's WebGPU for when the user has not set
 * DENO_WEBGPU_BACKEND: "vulkan" where a Vulkan driver is installed (its
 * manifest is in one of the loader's folders, or named by VK_DRIVER_FILES /
 * VK_ICD_FILENAMES). Deno's default also loads the GL backend through EGL,
 * whose library destructor races the exit of other threads and aborted
 * about 1 test run in 7 with glibc heap corruption after every test had
 * passed; the adapter it then picks is the Vulkan one anyway. On Linux
 * without a Vulkan driver the only backend left is GL: "gl", so that tailor
 * knows it (its texture layout and the advice to install the driver depend
 * on it). Otherwise null (Deno's default). Looks only where read access is
 * already granted, so it never prompts; a folder it may not read leaves
 * the answer to Deno.
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

/**
 * What to do about the adapter in use, in one line, or undefined when
 * nothing needs doing: the GL backend works, but slowly, and only because
 * no Vulkan driver is installed.
 *
 * @example
 * ```ts
 * const advice = adapterAdvice((await acquireDevice()).report);
 * if (advice) console.error(`warning: ${advice}`);
 * ```
 */
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

/**
 * Set DENO_WEBGPU_BACKEND to {@link preferredBackend} if the user has not
 * set it and the environment may be written; Deno reads it once, when the
 * first adapter is requested. Returns the backend in force.
 */
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

/**
 * The adapter tailor would use, described for a run's manifest, with the
 * backend and the advice of {@link adapterAdvice}; undefined when there is
 * none. Chooses the backend first, as {@link acquireDevice} does (Deno
 * fixes it at the first request).
 *
 * @example
 * ```ts
 * const a = await describeDefaultAdapter();
 * if (a?.advice) console.error(`warning: ${a.advice}`);
 * ```
 */
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
