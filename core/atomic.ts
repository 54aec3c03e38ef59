// Atomic file output: write beside the target, then rename, so a killed process never leaves a torn file.
import { dirname } from "node:path";

function tempPath(path: string): string {
  const tag = `${Deno.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
  return `${path}.${tag}.tmp`;
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

export function writeJsonAtomic(path: string, value: unknown, indent = 0): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, indent || undefined) + "\n");
}

/** Fill a temporary folder, then rename it into place: `path` is replaced only once `fill` succeeds. */
export async function writeDirAtomic(path: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    await Deno.remove(path, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}
