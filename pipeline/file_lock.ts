// flock: exclusive across processes (and nodes on NFSv4, CephFS, EFS), dropped by the kernel when its process dies.
// Lock files are never deleted: deleting one while a waiter holds it open would let a third process lock a new file.
import { hostname } from "node:os";
import { dirname } from "node:path";

/** Wait for and take the lock at `path` (`onWait` hears who holds it); returns the release function. */
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
