import type { z } from "zod";
import { quote } from "../core/errors.ts";
import { formatPath, type YamlPath } from "./yaml_source.ts";

/**
 * Word a zod issue as `Invalid "a.b": expected number, received string`,
 * `Missing "a.b": ...` or `Unknown key "c" in "a"`.
 *
 * @example
 * ```ts
 * const r = z.object({ n: z.number() }).safeParse({ n: "x" });
 * zodIssueMessage(r.error!.issues[0], ["with", "n"], "x");
 * // 'Invalid "with.n": expected number, received string (got "x")'
 * ```
 */
export function zodIssueMessage(issue: z.core.$ZodIssue, path: YamlPath, value: unknown): string {
  const where = formatPath(path);
  const detail = issue.message.replace(/^Invalid input: /, "");
  if (issue.code === "unrecognized_keys") {
    return `Unknown key ${quote(issue.keys[0])} in ${quote(where)}`;
  }
  if (value === undefined) return `Missing ${quote(where)}: ${detail.replace(/, received undefined$/, "")}`;
  return `Invalid ${quote(where)}: ${detail} (got ${quote(value)})`;
}

export function valueAt(root: unknown, path: YamlPath): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node;
}
