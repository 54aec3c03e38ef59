// `_stage.json`: a folder without a record with the current key is not a finished stage.
import { join } from "node:path";
import { canonicalJson, type KeyParts } from "./fingerprint.ts";

export const RECORD_FILE = "_stage.json";

export interface StageRecord extends KeyParts {
  id: string;
  key: string;
  outputs: Record<string, unknown>;
  startedAt: string;
  seconds: number;
}

export async function readStageRecord(stageDir: string): Promise<StageRecord | undefined> {
  try {
    const record = JSON.parse(await Deno.readTextFile(join(stageDir, RECORD_FILE)));
    return typeof record?.key === "string" ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Why a stage must run again, given its previous record; undefined when it is up to date. */
export function whyRun(previous: StageRecord | undefined, now: KeyParts, key: string): string | undefined {
  if (!previous) return "no finished output";
  if (previous.key === key) return undefined;
  if (previous.kind !== now.kind) return `stage kind changed from "${previous.kind}" to "${now.kind}"`;
  if (previous.code !== now.code) return `code of stage kind "${now.kind}" changed`;
  const params = _changedPaths(previous.params, now.params, "with");
  if (params.length) return `parameters changed: ${params.slice(0, 3).join(", ")}${params.length > 3 ? ", ..." : ""}`;
  for (const [path, print] of Object.entries(now.inputs)) {
    if (previous.inputs?.[path] !== print) return `input "${path}" changed`;
  }
  for (const [id, key] of Object.entries(now.upstream)) {
    if (previous.upstream?.[id] !== key) return `output of "${id}" changed`;
  }
  return "key changed";
}

function _changedPaths(a: unknown, b: unknown, path: string): string[] {
  if (canonicalJson(a) === canonicalJson(b)) return [];
  const objects = a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b);
  if (!objects) return [path];
  const ra = a as Record<string, unknown>, rb = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort();
  return keys.flatMap((k) => _changedPaths(ra[k], rb[k], `${path}.${k}`));
}
