/** Small stage kinds used only by the runner's tests. */
import { join } from "node:path";
import { z } from "zod";
import { inputFile, inputFolder } from "../../pipeline/input_path.ts";
import { StageRegistry } from "../../pipeline/registry.ts";
import { defineStage } from "../../pipeline/stage.ts";

/** Live counters the test stages update, reset per test. */
export const probe = { running: 0, maxRunning: 0, calls: [] as string[] };

/** Writes `count` lines of `word` to a file. */
export const writeStage = defineStage({
  kind: "write",
  description: "write a word n times",
  params: z.strictObject({ word: z.string(), count: z.int().min(1), delayMs: z.number().default(0) }),
  output: z.object({ file: z.string(), lines: z.number() }),
  async run(params, ctx) {
    probe.calls.push(`write:${params.word}`);
    probe.running++;
    probe.maxRunning = Math.max(probe.maxRunning, probe.running);
    try {
      const file = join(ctx.outDir, "words.txt");
      await Deno.writeTextFile(file, "partial");
      await new Promise((r) => setTimeout(r, params.delayMs));
      if (ctx.signal.aborted) throw new Error("cancelled");
      await Deno.writeTextFile(file, `${params.word}\n`.repeat(params.count));
      return { file, lines: params.count };
    } finally {
      probe.running--;
    }
  },
});

/** Concatenates files and counts their lines; `failIf` makes it throw when a file contains that word. */
export const joinStage = defineStage({
  kind: "join",
  description: "join files",
  params: z.strictObject({
    files: z.array(z.string()).min(1),
    failIf: z.string().optional(),
    extra: z.number().optional(),
  }),
  output: z.object({ file: z.string(), lines: z.number() }),
  async run(params, ctx) {
    probe.calls.push("join");
    const texts = await Promise.all(params.files.map((f) => Deno.readTextFile(f)));
    const text = texts.join("");
    if (params.failIf && text.includes(params.failIf)) throw new Error(`found ${params.failIf}`);
    const file = join(ctx.outDir, "joined.txt");
    await Deno.writeTextFile(file, text);
    return { file, lines: text.split("\n").length - 1 };
  },
});

/** Counts to `steps`, saving a checkpoint in its work folder each step; fails once at `failAt`. */
export const countStage = defineStage({
  kind: "count",
  description: "count with checkpoints",
  params: z.strictObject({ steps: z.int().min(1), failAt: z.int().optional() }),
  output: z.object({ resumedFrom: z.number(), done: z.number() }),
  async run(params, ctx) {
    const checkpoint = join(ctx.workDir!, "step.txt");
    const start = Number(await Deno.readTextFile(checkpoint).catch(() => "0"));
    for (let step = start; step < params.steps; step++) {
      if (step === params.failAt && start < step) throw new Error(`failing at step ${step}`);
      await Deno.writeTextFile(checkpoint, String(step + 1));
      ctx.progress(step + 1, params.steps);
    }
    return { resumedFrom: start, done: params.steps };
  },
});

/** Reads a file (and lists a folder): its paths are checked when the pipeline is planned. */
export const readStage = defineStage({
  kind: "read",
  description: "read a file",
  params: z.strictObject({
    file: inputFile(),
    folder: inputFolder().optional(),
    more: z.array(z.strictObject({ file: inputFile() })).default([]),
  }),
  output: z.object({ bytes: z.number() }),
  async run(params) {
    return { bytes: (await Deno.readFile(params.file)).length };
  },
});

/** A registry holding the test kinds. */
export function testRegistry(): StageRegistry {
  return new StageRegistry().register(writeStage, import.meta.url).register(joinStage, import.meta.url)
    .register(countStage, import.meta.url).register(readStage, import.meta.url);
}
