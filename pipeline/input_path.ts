// Parameters naming a file or folder a stage reads; the planner checks that every such path written in the
// pipeline (not one another stage produces) exists before anything runs.
import { z } from "zod";
import { quote } from "../core/errors.ts";

export type InputKind = "file" | "folder";

const _KIND = "tailorInput";

/** A string parameter naming a file the stage reads. */
export function inputFile(): z.ZodString {
  return z.string().min(1).meta({ [_KIND]: "file" });
}

export function inputFolder(): z.ZodString {
  return z.string().min(1).meta({ [_KIND]: "folder" });
}

export interface InputProblem {
  path: (string | number)[];
  message: string;
}

/** Marked paths of `params` that do not exist or are the wrong kind; references to stage outputs are skipped. */
export function inputPathProblems(schema: z.ZodType, params: unknown): InputProblem[] {
  const out: InputProblem[] = [];
  _walk(schema, params, [], out);
  return out;
}

function _walk(schema: z.ZodType, value: unknown, path: (string | number)[], out: InputProblem[]): void {
  if (value === undefined || value === null) return;
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  const kind = z.globalRegistry.get(schema)?.[_KIND] as InputKind | undefined;
  if (kind) {
    if (typeof value === "string") {
      const message = _problem(value, kind);
      if (message) out.push({ path, message });
    }
    return;
  }
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "nonoptional":
      return _walk(def.innerType as z.ZodType, value, path, out);
    case "pipe":
      return _walk(def.in as z.ZodType, value, path, out);
    case "object":
      if (typeof value !== "object" || Array.isArray(value)) return;
      for (const [key, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        _walk(field, (value as Record<string, unknown>)[key], [...path, key], out);
      }
      return;
    case "array":
      if (!Array.isArray(value)) return;
      value.forEach((item, i) => _walk(def.element as z.ZodType, item, [...path, i], out));
      return;
  }
}

function _problem(path: string, kind: InputKind): string | undefined {
  let isFolder: boolean;
  try {
    isFolder = Deno.statSync(path).isDirectory;
  } catch (e) {
    // Without read permission nothing can be said now; the stage reports it when it runs.
    if (!(e instanceof Deno.errors.NotFound)) return undefined;
    if (kind === "folder") return `No such folder ${quote(path, 200)}`;
    return `No such file ${quote(path, 200)}${_missingParent(path)}`;
  }
  if (kind === "file" && isFolder) return `${quote(path, 200)} is a folder, expected a file`;
  if (kind === "folder" && !isFolder) return `${quote(path, 200)} is a file, expected a folder`;
  return undefined;
}

/** Where a whole folder is missing, say which: it is usually the one to fix (a root variable). */
function _missingParent(path: string): string {
  const parts = path.split("/");
  for (let n = 1; n < parts.length; n++) {
    const dir = parts.slice(0, n).join("/");
    if (dir && dir !== "." && dir !== ".." && !_exists(dir)) return ` (folder ${quote(dir, 200)} does not exist)`;
  }
  return "";
}

function _exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
