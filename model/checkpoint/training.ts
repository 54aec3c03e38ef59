/**
 * Checkpoints: safetensors weights (+ optimizer buffers) and a small JSON of the rest, in a folder written
 * under a temporary name and renamed; `latest.json` switches atomically after, so the last good one survives.
 */
import { join } from "node:path";
import { writeDirAtomic, writeJsonAtomic } from "../../core/atomic.ts";
import { InputError } from "../../core/errors.ts";
import { encodeSafetensors, type NamedArray, readSafetensors } from "./safetensors.ts";

export interface CheckpointData {
  tensors: Map<string, NamedArray>;
  /** JSON-serialisable training state. */
  state: Record<string, unknown>;
}

/** Write checkpoint `step` under `dir` and point `latest.json` at it; keep the newest `keep`. */
export async function saveCheckpoint(dir: string, step: number, data: CheckpointData, keep = 2): Promise<string> {
  const name = `step_${String(step).padStart(8, "0")}`;
  const path = join(dir, name);
  await writeDirAtomic(path, async (tmp) => {
    await Deno.writeFile(join(tmp, "weights.safetensors"), encodeSafetensors(data.tensors, { step: String(step) }));
    await Deno.writeTextFile(join(tmp, "state.json"), JSON.stringify(data.state));
  });
  await writeJsonAtomic(join(dir, "latest.json"), { checkpoint: name, step });
  const old: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isDirectory && /^step_\d+$/.test(e.name)) old.push(e.name);
  old.sort();
  for (const o of old.slice(0, Math.max(0, old.length - keep))) {
    if (o !== name) await Deno.remove(join(dir, o), { recursive: true }).catch(() => {});
  }
  return path;
}

/** The latest complete checkpoint under `dir`, or null when there is none. */
export async function loadLatestCheckpoint(dir: string): Promise<(CheckpointData & { step: number }) | null> {
  let latest: { checkpoint: string; step: number };
  try {
    latest = JSON.parse(await Deno.readTextFile(join(dir, "latest.json")));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new InputError(`Cannot read "${join(dir, "latest.json")}": ${(e as Error).message}`);
  }
  const path = join(dir, latest.checkpoint);
  const { tensors } = await readSafetensors(join(path, "weights.safetensors"));
  const state = JSON.parse(await Deno.readTextFile(join(path, "state.json")));
  return { tensors, state, step: latest.step };
}
