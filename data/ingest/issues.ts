/** What ingestion found wrong: counts by kind and the first messages of each. */
export interface IngestIssues {
  errors: Record<string, number>;
  warnings: Record<string, number>;
  /** Up to `keepPerKind` messages per kind, errors first. */
  messages: string[];
}

export class IssueLog {
  readonly errors: Record<string, number> = {};
  readonly warnings: Record<string, number> = {};
  readonly #errorMessages: string[] = [];
  readonly #warningMessages: string[] = [];
  readonly #keep: number;

  constructor(keepPerKind = 3) {
    this.#keep = keepPerKind;
  }

  error(kind: string, message: string | (() => string)): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    if (this.errors[kind] <= this.#keep) this.#errorMessages.push(typeof message === "string" ? message : message());
  }

  warn(kind: string, message: string | (() => string)): void {
    this.warnings[kind] = (this.warnings[kind] ?? 0) + 1;
    if (this.warnings[kind] <= this.#keep) {
      this.#warningMessages.push(typeof message === "string" ? message : message());
    }
  }

  get errorCount(): number {
    return Object.values(this.errors).reduce((a, b) => a + b, 0);
  }

  get firstError(): string | undefined {
    return this.#errorMessages[0];
  }

  get errorMessages(): readonly string[] {
    return this.#errorMessages;
  }

  snapshot(): IngestIssues {
    return {
      errors: { ...this.errors },
      warnings: { ...this.warnings },
      messages: [...this.#errorMessages, ...this.#warningMessages],
    };
  }
}

/**
 * One line per kind of issue, errors first.
 *
 * @example
 * ```ts
 * import { summarizeIssues } from "./issues.ts";
 * summarizeIssues({ errors: {}, warnings: { "box outside image": 2 }, messages: [] });
 * // "0 errors; 2 warnings (box outside image: 2)"
 * ```
 */
export function summarizeIssues(issues: IngestIssues): string {
  const part = (name: string, counts: Record<string, number>) => {
    const entries = Object.entries(counts);
    const total = entries.reduce((a, [, n]) => a + n, 0);
    const label = `${total} ${name}${total === 1 ? "" : "s"}`;
    return entries.length ? `${label} (${entries.map(([k, n]) => `${k}: ${n}`).join(", ")})` : label;
  };
  return `${part("error", issues.errors)}; ${part("warning", issues.warnings)}`;
}
