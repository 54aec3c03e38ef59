import { basename } from "node:path";
import { InputError } from "../core/errors.ts";

export function jsonError(file: string, path: string, why: string): InputError {
  return new InputError(`Cannot read ${JSON.stringify(path)} in ${JSON.stringify(basename(file))}: ${why}`);
}

export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return typeof value === "string" ? `the string ${JSON.stringify(value).slice(0, 40)}` : String(value);
}
