/** Until a stage's first step, kernels compiled are reported against last run's count, so a cold start is not silent. */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeJsonAtomic } from "../core/atomic.ts";
import { canonicalJson } from "../pipeline/fingerprint.ts";
import type { StageContext } from "../pipeline/stage.ts";
import { rt } from "../tensor/tensor.ts";

export const KERNEL_COUNTS = join(".cache", "kernel_counts.json");

/** Call `done` after the first step, `stop` in any case. */
export interface CompileWatch {
  done(): Promise<void>;
  stop(): void;
}

/**
 * Report kernels compiled for `ctx` until `done()`; `work` identifies the kernels' shapes.
 * @example
 * ```ts
 * const watch = await watchCompiles(ctx, { config, loss: "eqlv2", batch: 4 });
 * try {
 *   await trainDetector({ ..., onStep: (s) => { if (s.step === 1) watch.done(); } });
 * } finally {
 *   watch.stop();
 * }
 * ```
 */
export async function watchCompiles(ctx: StageContext, work: unknown, file = KERNEL_COUNTS): Promise<CompileWatch> {
  const runtime = rt();
  const key = createHash("sha256").update(canonicalJson({ work, adapter: runtime.report.description })).digest("hex")
    .slice(0, 16);
  const counts = await _read(file);
  const expected = counts[key] ?? 0;
  const start = runtime.pipelineCount;
  let watching = true;
  const listener = ({ name }: { name: string }) => {
    const compiled = runtime.pipelineCount - start;
    // Kernels beyond the remembered count (changed code) keep the phase below 100%.
    const total = expected > 0 ? Math.max(expected, compiled + 1) : 0;
    ctx.progress(compiled, total, `kernel ${name}`, "compile");
  };
  runtime.compileListeners.add(listener);
  const stop = () => {
    watching = false;
    runtime.compileListeners.delete(listener);
  };
  return {
    async done() {
      if (!watching) return;
      stop();
      const compiled = runtime.pipelineCount - start;
      if (compiled > 0) ctx.progress(compiled, compiled, "kernels compiled", "compile");
      // Another stage in this process may have compiled some first: keep the largest count.
      if (compiled > expected && Deno.permissions.querySync({ name: "write", path: file }).state === "granted") {
        await writeJsonAtomic(file, { ...(await _read(file)), [key]: compiled }).catch(() => {});
      }
    },
    stop,
  };
}

async function _read(file: string): Promise<Record<string, number>> {
  if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") return {};
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch {
    return {};
  }
}

/**
 * @example
 * ```ts
 * await ingestDataset(p.dataset, { onProgress: ingestProgress(ctx) });
 * ```
 */
export function ingestProgress(ctx: StageContext): (bytes: number, totalBytes: number) => void {
  const mib = (n: number) => Math.max(1, Math.ceil(n / 2 ** 20));
  return (bytes, total) => ctx.progress(Math.min(mib(bytes), mib(total)), mib(total), "MiB read", "ingest");
}
