/**
 * Errors that point into a JSON file: `Cannot read "<path>" in "<file>": <why>`.
 */
import { basename } from "node:path";
import { InputError } from "../core/errors.ts";

/** An InputError naming the JSON path inside the file. */
export function jsonError(file: string, path: string, why: string): InputError {
  return new InputError(`Cannot read ${JSON.stringify(path)} in ${JSON.stringify(basename(file))}: ${why}`);
}

/** Describe a JSON value's kind for "expected X, got Y" messages. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return typeof value === "string" ? `the string ${JSON.stringify(value).slice(0, 40)}` : String(value);
}
