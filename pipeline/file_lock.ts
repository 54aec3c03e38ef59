/**
 * Exclusive advisory locks between processes, on one host or on several
 * sharing a filesystem (flock; NFSv4, CephFS and EFS carry it across
 * nodes). The kernel drops the lock when its process dies, so a killed pod
 * never leaves a stale lock behind. Lock files are never deleted: deleting
 * one while a waiter holds it open would let a third process lock a new file.
 */
import { hostname } from "node:os";
import { dirname } from "node:path";

/**
 * Take the lock at `path`, waiting while another process holds it; `onWait`
 * hears who holds it before the wait. Returns the function that releases it.
 *
 * @example
 * ```ts
 * const release = await lockFile("runs/demo/locks/train.lock", (who) => console.log(`waiting for ${who}`));
 * try { ... } finally { await release(); }
 * ```
 */
export async function lockFile(path: string, onWait?: (holder: string) => void): Promise<() => Promise<void>> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    if (!(await file.tryLock(true))) {
      onWait?.((await Deno.readTextFile(path).catch(() => "")).trim() || "another process");
      await file.lock(true);
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`pid ${Deno.pid} on ${hostname()} since ${new Date().toISOString()}\n`));
  } catch (e) {
    file.close();
    throw e;
  }
  return async () => {
    await file.unlock().catch(() => {});
    file.close();
  };
}
