/**
 * The stage kinds a pipeline's `uses:` can name. Each task module registers
 * here by import; the registry also knows each kind's module, whose source
 * hash is the kind's code version.
 */
import { InputError, quote } from "../core/errors.ts";
import { moduleCodeHash } from "./code_hash.ts";
import type { StageKind } from "./stage.ts";
import { evalStage } from "../tasks/eval.ts";
import { ingestStage } from "../tasks/ingest.ts";
import { reportStage } from "../tasks/report.ts";
import { synthStage } from "../tasks/synth.ts";
import { trainStage } from "../tasks/train.ts";
import { predictStage } from "../tasks/predict.ts";
import { predictMergeStage, predictPartStage } from "../tasks/predict_shards.ts";
import { evalMergeStage, evalPartStage } from "../tasks/eval_shards.ts";

/** A set of stage kinds by name. */
export class StageRegistry {
  readonly #kinds = new Map<string, { stage: StageKind; moduleUrl?: string }>();

  /**
   * Register a kind; `moduleUrl` (usually the task's `import.meta.url`) gives its code version.
   *
   * @example
   * ```ts
   * const registry = new StageRegistry().register(reportStage, new URL("../tasks/report.ts", import.meta.url).href);
   * ```
   */
  register(stage: StageKind, moduleUrl?: string): this {
    if (this.#kinds.has(stage.kind)) throw new Error(`Stage kind ${quote(stage.kind)} is registered twice`);
    this.#kinds.set(stage.kind, { stage, moduleUrl });
    return this;
  }

  /** The kind named `name`, or undefined. */
  find(name: string): StageKind | undefined {
    return this.#kinds.get(name)?.stage;
  }

  /** The kind named `name`; an `InputError` listing the known kinds otherwise. */
  get(name: string): StageKind {
    const found = this.find(name);
    if (!found) throw new InputError(`Unknown stage kind ${quote(name)} (known: ${this.names().join(", ")})`);
    return found;
  }

  /** Known kind names, sorted. */
  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }

  /** Code version of a kind: its module's and local imports' source hash, or "unversioned". */
  async codeVersion(name: string): Promise<string> {
    const url = this.#kinds.get(name)?.moduleUrl;
    return url ? await moduleCodeHash(url) : "unversioned";
  }
}

/** Registry of the project's task modules (`tasks/*.ts`). */
export function defaultRegistry(): StageRegistry {
  const task = (name: string) => new URL(`../tasks/${name}.ts`, import.meta.url).href;
  return new StageRegistry()
    .register(evalStage, task("eval"))
    .register(ingestStage, task("ingest"))
    .register(reportStage, task("report"))
    .register(synthStage, task("synth"))
    .register(trainStage, task("train"))
    .register(predictStage, task("predict"))
    .register(predictPartStage, task("predict_shards"))
    .register(predictMergeStage, task("predict_shards"))
    .register(evalPartStage, task("eval_shards"))
    .register(evalMergeStage, task("eval_shards"));
}
