import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

const IMPORT = /(?:import|export)\s[^"';]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/g;
const cache = new Map<string, string>();

/** Hash a module and its relative imports, so editing any re-runs its stage (npm imports are pinned by the lock). */
export async function moduleCodeHash(moduleUrl: string): Promise<string> {
  const hit = cache.get(moduleUrl);
  if (hit) return hit;
  const seen = new Set<string>();
  const queue = [moduleUrl];
  const hash = createHash("sha256");
  while (queue.length) {
    const url = queue.shift()!;
    if (seen.has(url) || !url.startsWith("file:")) continue;
    seen.add(url);
    let text: string;
    try {
      text = await Deno.readTextFile(fileURLToPath(url));
    } catch {
      continue;
    }
    const name = new URL(url).pathname;
    hash.update(name.slice(name.lastIndexOf("/"))).update("\0").update(text).update("\0");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith(".")) queue.push(new URL(spec, url).href);
    }
  }
  const digest = hash.digest("hex").slice(0, 16);
  cache.set(moduleUrl, digest);
  return digest;
}
