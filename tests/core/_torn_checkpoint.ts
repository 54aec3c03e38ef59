/**
 * Child process of atomic_checkpoint_test.ts: saves checkpoint 2 of the
 * test's data under `dir`, its file writes instrumented so that it stops
 * for good after `stopBytes` bytes in all (the write that crosses the mark
 * is cut there), or just before rename number `stopRename`, and says so on
 * stdout; the parent then kills it. -1 disables a stop.
 *
 * Usage: deno run --allow-read --allow-write _torn_checkpoint.ts DIR STOP_BYTES STOP_RENAME
 */
import { saveCheckpoint } from "../../model/checkpoint/training.ts";
import { checkpointOf } from "./_checkpoint_data.ts";

const [dir, stopBytesArg, stopRenameArg] = Deno.args;
let budget = Number(stopBytesArg) < 0 ? Infinity : Number(stopBytesArg);
const stopRename = Number(stopRenameArg);
let renames = 0;

/** Say where it stopped, then wait (a timer keeps the process alive) until killed. */
async function stop(where: string): Promise<never> {
  console.log(`stopped ${where}`);
  await new Promise((resolve) => setTimeout(resolve, 1e9));
  throw new Error("not killed");
}

const { writeFile, rename } = Deno;
Object.assign(Deno, {
  async writeFile(path: string, data: Uint8Array, options?: Deno.WriteFileOptions) {
    if (data.length <= budget) {
      budget -= data.length;
      return await writeFile(path, data, options);
    }
    await writeFile(path, data.subarray(0, budget), options);
    await stop(`in ${path} after ${budget} of ${data.length} bytes`);
  },
  writeTextFile(path: string, text: string, options?: Deno.WriteFileOptions) {
    return Deno.writeFile(path, new TextEncoder().encode(text), options);
  },
  async rename(from: string, to: string) {
    if (renames++ === stopRename) await stop(`before renaming ${from} to ${to}`);
    return await rename(from, to);
  },
});

await saveCheckpoint(dir, 2, checkpointOf(2));
console.log("saved");
