/**
 * The evaluator's entry point for any runtime: `deno task eval` runs it under Deno, `deno task build` bundles it
 * into the standalone `tailor-eval` (Node SEA), which also runs it in each worker thread. Its one Deno API,
 * core/atomic.ts's file writes, gets node:fs under Node.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import process from "node:process";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { runEvalCli } from "./cli.ts";
import { BUNDLE_ASSET, setWorkerSpawner } from "./threads.ts";
import { handleTask, type WorkerTask } from "./worker_tasks.ts";

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
  _useNodeWorkers();
}

/** Worker threads under Node: the bundle again, read from the executable (or the script file) it runs from. */
function _useNodeWorkers(): void {
  const sea = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.("node:sea") as
    | { isSea(): boolean; getAsset(key: string, encoding: string): string }
    | undefined;
  setWorkerSpawner(() => {
    const w = sea?.isSea()
      ? new Worker(sea.getAsset(BUNDLE_ASSET, "utf8"), { eval: true })
      : new Worker(process.argv[1]);
    return {
      postMessage: (m) => w.postMessage(m),
      listen: (callback) => {
        w.on("message", callback);
        w.on("error", (e) => callback(e instanceof Error ? e : new Error(String(e))));
        w.on("exit", () => callback(new Error("worker exited")));
      },
      terminate: () => void w.terminate(),
    };
  });
}

if (isMainThread) {
  runEvalCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
} else parentPort!.on("message", (task: WorkerTask) => parentPort!.postMessage(handleTask(task)));
