/**
 * The evaluator's entry point for any runtime: `deno task eval` runs it under Deno, and `deno task build`
 * bundles it into the standalone `tailor-eval` (Node's single executable application). The evaluator reads
 * through node: modules; the one Deno API it reaches, core/atomic.ts's file writes, gets node:fs under Node.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import process from "node:process";
import { runEvalCli } from "./cli.ts";

if (!("Deno" in globalThis)) {
  const write = (path: string, data: string | Uint8Array) => writeFile(path, data);
  Object.defineProperty(globalThis, "Deno", {
    value: {
      pid: process.pid,
      mkdir: (path: string, options?: { recursive?: boolean }) => mkdir(path, options),
      writeTextFile: write,
      writeFile: write,
      rename,
      remove: (path: string, options?: { recursive?: boolean }) => rm(path, { recursive: options?.recursive }),
    },
  });
}

runEvalCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
