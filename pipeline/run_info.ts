/** Facts about where a run happened, for its manifest: git commit and WebGPU adapter. */
import { dirname, join, resolve } from "node:path";
import { describeDefaultAdapter } from "../gpu/device.ts";

/** The checked-out commit, read from `.git` without running git. */
export async function gitCommit(from = "."): Promise<string | undefined> {
  let dir = resolve(from);
  for (;;) {
    const git = join(dir, ".git");
    try {
      const head = (await Deno.readTextFile(join(git, "HEAD"))).trim();
      if (!head.startsWith("ref: ")) return head;
      const ref = head.slice(5);
      try {
        return (await Deno.readTextFile(join(git, ref))).trim();
      } catch {
        const packed = await Deno.readTextFile(join(git, "packed-refs")).catch(() => "");
        return packed.split("\n").find((l) => l.endsWith(` ${ref}`))?.split(" ")[0];
      }
    } catch {
      if (dirname(dir) === dir) return undefined;
      dir = dirname(dir);
    }
  }
}

export function adapterInfo(): ReturnType<typeof describeDefaultAdapter> {
  return describeDefaultAdapter();
}
