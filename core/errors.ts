/**
 * Errors a user can act on. `InputError` carries a one-line message that names
 * the file, line or JSON path and the offending value; the CLI prints it
 * without a stack trace.
 */
export class InputError extends Error {
  override name = "InputError";
}

/**
 * All the problems found in one input at once (every error of a pipeline
 * file), one line each; the CLI prints every line.
 *
 * @example
 * ```ts
 * const e = new InputErrors(['p.yaml:3:9: Unknown stage kind "trian"', 'p.yaml:7:5: Unknown key "lr2"']);
 * e.message.split("\n").length; // 2
 * ```
 */
export class InputErrors extends InputError {
  override name = "InputErrors";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

/** Quote a value for an error message, cut to a readable length. */
export function quote(value: unknown, max = 60): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  } catch {
    s = String(value);
  }
  return s.length > max ? s.slice(0, max - 3) + "..." : s;
}
