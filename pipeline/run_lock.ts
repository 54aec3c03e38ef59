// One run per run directory; a lock whose process is gone (same host) is stale and taken over.
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { InputError, quote } from "../core/errors.ts";

interface _LockInfo {
  pid: number;
  host: string;
  started: string;
}

export async function acquireRunLock(runDir: string): Promise<() => Promise<void>> {
  await Deno.mkdir(runDir, { recursive: true });
  const path = join(runDir, "run.lock");
  const mine: _LockInfo = { pid: Deno.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await Deno.open(path, { write: true, createNew: true });
      await file.write(new TextEncoder().encode(JSON.stringify(mine) + "\n"));
      file.close();
      return async () => {
        const held = await _readLock(path);
        if (held?.pid === mine.pid && held.started === mine.started) await Deno.remove(path).catch(() => {});
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const held = await _readLock(path);
    if (held && held.host === mine.host && !_alive(held.pid)) {
      // A dead holder: take over. Removing then createNew again keeps two racing takers from both winning.
      await Deno.remove(path).catch(() => {});
      continue;
    }
    if (!held) {
      // Written but not yet filled by another process, or garbage: give it a moment.
      await new Promise((r) => setTimeout(r, 50));
      const again = await _readLock(path);
      if (!again) await Deno.remove(path).catch(() => {});
      continue;
    }
    throw new InputError(
      `Run directory ${quote(runDir)} is in use by pid ${held.pid} on ${quote(held.host)} since ${held.started}` +
        ` (remove ${quote(path)} if that process is gone)`,
    );
  }
  throw new InputError(`Cannot take the lock ${quote(path)}: it keeps changing`);
}

/** Who holds the run lock of `runDir`; a holder on another host counts as alive: it cannot be probed. */
export async function runLockHolder(runDir: string): Promise<string | undefined> {
  const held = await _readLock(join(runDir, "run.lock"));
  if (!held || (held.host === hostname() && !_alive(held.pid))) return undefined;
  return `pid ${held.pid} on ${quote(held.host)} since ${held.started}`;
}

async function _readLock(path: string): Promise<_LockInfo | undefined> {
  try {
    const info = JSON.parse(await Deno.readTextFile(path));
    return typeof info?.pid === "number" && typeof info?.host === "string" ? info : undefined;
  } catch {
    return undefined;
  }
}

function _alive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    // Signal 0 probes without signalling; Deno gates /proc/<pid> behind --allow-all but this behind --allow-run.
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // ESRCH: no such process. EPERM or no permission to probe: assume alive rather than steal a live run's lock.
    return (e as { code?: string }).code !== "ESRCH";
  }
}
