// Content hashes for skipping unchanged stages: kind, code version, parameters, named files, upstream keys.
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";

/** Files above this size are fingerprinted by size and modification time, not content. */
const CONTENT_HASH_LIMIT_BYTES = 64 * 1024 * 1024;

/** Everything a stage's key is made of; kept in its record so `--explain` can say what changed. */
export interface KeyParts {
  kind: string;
  code: string;
  params: unknown;
  inputs: Record<string, string>;
  upstream: Record<string, string>;
}

export function hashValue(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
        : v,
  );
}

/** Replace the run directory prefix in every string by `$RUN`, so moving a run does not change keys. */
export function relativeToRun(value: unknown, runDir: string): unknown {
  const abs = resolve(runDir);
  const swap = (s: string) =>
    s.startsWith(runDir + "/")
      ? "$RUN" + s.slice(runDir.length)
      : s.startsWith(abs + "/")
      ? "$RUN" + s.slice(abs.length)
      : s;
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "string" ? swap(v) : v)));
}

/** Fingerprints of files and folders named in `params`, outside the run directory (covered by upstream keys). */
export async function inputFingerprints(params: unknown, runDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const runAbs = resolve(runDir);
  for (const s of stringsIn(params)) {
    if (s in out || !(s.includes("/") || /\.[A-Za-z0-9]+$/.test(s)) || s.includes("\n")) continue;
    if (resolve(s).startsWith(runAbs + "/")) continue;
    const print = await _fingerprint(s);
    if (print) out[s] = print;
  }
  return out;
}

async function _fingerprint(path: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return undefined;
  }
  const hash = createHash("sha256");
  if (info.isFile) {
    if (info.size <= CONTENT_HASH_LIMIT_BYTES) hash.update(await Deno.readFile(path));
    else hash.update(`${info.size}:${info.mtime?.getTime()}`);
  } else if (info.isDirectory) {
    for await (const line of _walk(path, "")) hash.update(line);
  }
  return hash.digest("hex").slice(0, 16);
}

async function* _walk(root: string, rel: string): AsyncGenerator<string> {
  const entries = [];
  for await (const e of Deno.readDir(join(root, rel))) entries.push(e);
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) yield* _walk(root, path);
    else {
      const info = await Deno.stat(join(root, path));
      yield `${path}:${info.size}:${info.mtime?.getTime()}\n`;
    }
  }
}

export function* stringsIn(value: unknown): Generator<string> {
  if (typeof value === "string") yield value;
  else if (Array.isArray(value)) { for (const v of value) yield* stringsIn(v); }
  else if (value && typeof value === "object") { for (const v of Object.values(value)) yield* stringsIn(v); }
}
