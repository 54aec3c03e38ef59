import { InputError, quote } from "../core/errors.ts";
import { moduleCodeHash } from "./code_hash.ts";
import type { StageKind } from "./stage.ts";

/** Stage kinds by name; the pipeline code knows stages only through one (`defaultRegistry()` in `tasks/`). */
export class StageRegistry {
  readonly #kinds = new Map<string, { stage: StageKind; moduleUrl?: string }>();

  /**
   * Register a kind; `moduleUrl` (usually the task's `import.meta.url`) gives its code version.
   *
   * @example
   * ```ts
   * const registry = new StageRegistry().register(reportStage, new URL("./report.ts", import.meta.url).href);
   * ```
   */
  register(stage: StageKind, moduleUrl?: string): this {
    if (this.#kinds.has(stage.kind)) throw new Error(`Stage kind ${quote(stage.kind)} is registered twice`);
    this.#kinds.set(stage.kind, { stage, moduleUrl });
    return this;
  }

  find(name: string): StageKind | undefined {
    return this.#kinds.get(name)?.stage;
  }

  get(name: string): StageKind {
    const found = this.find(name);
    if (!found) throw new InputError(`Unknown stage kind ${quote(name)} (known: ${this.names().join(", ")})`);
    return found;
  }

  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }

  /** Code version of a kind: its module's and local imports' source hash, or "unversioned". */
  async codeVersion(name: string): Promise<string> {
    const url = this.#kinds.get(name)?.moduleUrl;
    return url ? await moduleCodeHash(url) : "unversioned";
  }
}
