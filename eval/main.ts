/**
 * The evaluator's entry point for any runtime: `deno task eval` runs it under Deno, and `deno task build`
 * bundles it into the standalone `tailor-eval` (Node's single executable application), so it reaches the
 * process only through node: modules.
 */
import process from "node:process";
import { runEvalCli } from "./cli.ts";

runEvalCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
