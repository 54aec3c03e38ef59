/** An error the user can act on: one line naming the file, line or JSON path and the value; shown without a stack. */
export class InputError extends Error {
  override name = "InputError";
}

/** Every problem found in one input, one a line; the CLI prints them all. */
export class InputErrors extends InputError {
  override name = "InputErrors";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

export function quote(value: unknown, max = 60): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  } catch {
    s = String(value);
  }
  return s.length > max ? s.slice(0, max - 3) + "..." : s;
}
