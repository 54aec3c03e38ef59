// A stage kind: named, typed work; a zod schema checks its parameters, its output is a small JSON record.
import type { z } from "zod";
import type { Shard, StageSharding } from "./sharding.ts";

/** What the runner hands to a running stage. */
export interface StageContext {
  /**
   * Folder where this stage writes its outputs; the runner creates it empty and renames it into place on success.
   * Paths under it in the output record are rewritten to the final folder.
   */
  outDir: string;
  /**
   * Folder that survives a failed or killed attempt with the same parameters (checkpoints to resume from);
   * the runner deletes it after success. Absent when the stage runs outside the runner.
   */
  workDir?: string;
  runDir: string;
  log(message: string): void;
  /**
   * Progress within the stage, e.g. images done of total, in a named phase (compile, ingest, train...);
   * a total of 0 is work of unknown size.
   */
  progress(done: number, total: number, info?: string, phase?: string): void;
  signal: AbortSignal;
  /** Set when a part kind runs its stage kind's body on one shard of the input. */
  shard?: Shard;
}

export interface StageKind<P extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  kind: string;
  /** One line shown by `pipeline dag` and in errors. */
  description: string;
  params: P;
  output: O;
  /** Set when the kind can run as `shards: N` parts and a merge. */
  sharding?: StageSharding;
  run(params: z.infer<P>, ctx: StageContext): Promise<z.infer<O>>;
}

/** Define a stage kind with inferred parameter and output types. */
export function defineStage<P extends z.ZodType, O extends z.ZodType>(stage: StageKind<P, O>): StageKind<P, O> {
  return stage;
}

/** A context for running a stage outside the runner (tests, library calls). */
export function directContext(outDir: string, log: (m: string) => void = () => {}): StageContext {
  return { outDir, runDir: outDir, log, progress: () => {}, signal: new AbortController().signal };
}
