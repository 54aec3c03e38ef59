import assert from "node:assert/strict";
import { join } from "node:path";
import { writeDirAtomic, writeFileAtomic, writeJsonAtomic } from "../../core/atomic.ts";
import { loadLatestCheckpoint, saveCheckpoint } from "../../model/checkpoint/training.ts";
import { encodeSafetensors } from "../../model/checkpoint/safetensors.ts";
import { checkpointOf } from "./_checkpoint_data.ts";

const leftovers = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));

Deno.test("writeFileAtomic() creates folders, replaces a file whole and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_atomic_" });
  const path = join(dir, "a", "b", "out.bin");
  await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...await Deno.readFile(path)], [1, 2, 3]);
  await writeFileAtomic(path, "text");
  assert.equal(await Deno.readTextFile(path), "text");
  await writeJsonAtomic(path, { a: [1, 2] }, 1);
  assert.equal(await Deno.readTextFile(path), '{\n "a": [\n  1,\n  2\n ]\n}\n');
  assert.deepEqual(leftovers(join(dir, "a", "b")), []);
  // A target that cannot be replaced (a non-empty folder): the error comes through, nothing is left behind.
  const blocked = join(dir, "blocked");
  await Deno.mkdir(join(blocked, "inside"), { recursive: true });
  await assert.rejects(() => writeFileAtomic(blocked, "x"));
  assert.ok((await Deno.stat(join(blocked, "inside"))).isDirectory);
  assert.deepEqual(leftovers(dir), []);
});

Deno.test("writeDirAtomic() replaces a folder only when its fill succeeds", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_atomic_" });
  const path = join(dir, "ck");
  await writeDirAtomic(path, (tmp) => Deno.writeTextFile(join(tmp, "old.txt"), "old"));
  await assert.rejects(
    () =>
      writeDirAtomic(path, async (tmp) => {
        await Deno.writeTextFile(join(tmp, "new.txt"), "half");
        throw new Error("disk full");
      }),
    /disk full/,
  );
  assert.deepEqual([...Deno.readDirSync(path)].map((e) => e.name), ["old.txt"]);
  assert.deepEqual(leftovers(dir), []);
  await writeDirAtomic(path, (tmp) => Deno.writeTextFile(join(tmp, "new.txt"), "new"));
  assert.deepEqual([...Deno.readDirSync(path)].map((e) => e.name), ["new.txt"], "the old content is gone");
});

/** Run the child that saves checkpoint 2 and stops where told; kill it there with SIGKILL. */
async function tornSave(dir: string, stopBytes: number, stopRename: number): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read`,
      `--allow-write=${dir}`,
      new URL("./_torn_checkpoint.ts", import.meta.url).pathname,
      dir,
      String(stopBytes),
      String(stopRename),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let said = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    said += decoder.decode(chunk, { stream: true });
    if (/stopped|saved/.test(said)) break;
  }
  if (!said.includes("saved")) child.kill("SIGKILL");
  const status = await child.status;
  const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  assert.ok(/stopped|saved/.test(said), `the child neither stopped nor saved: ${said} ${err}`);
  if (said.includes("stopped")) assert.equal(status.signal, "SIGKILL", said);
  return said.trim();
}

function assertCheckpoint(got: Awaited<ReturnType<typeof loadLatestCheckpoint>>, step: number, what: string) {
  assert.ok(got, `${what}: no checkpoint loads`);
  const want = checkpointOf(step);
  assert.equal(got.step, step, what);
  assert.deepEqual(got.state, want.state, what);
  assert.deepEqual([...got.tensors.keys()], [...want.tensors.keys()], what);
  for (const [k, v] of want.tensors) assert.deepEqual(got.tensors.get(k), v, `${what}: tensor ${k}`);
}

Deno.test("a checkpoint write killed at any byte or before either rename leaves the previous one loading", async () => {
  const data = checkpointOf(2);
  const weights = encodeSafetensors(data.tensors, { step: "2" }).length;
  const state = new TextEncoder().encode(JSON.stringify(data.state)).length;
  const latest = new TextEncoder().encode(JSON.stringify({ checkpoint: "step_00000002", step: 2 }) + "\n").length;
  // Byte offsets over the three files written in turn (weights, state, then latest.json's temporary
  // file): their starts, the safetensors header, the middle and last byte of each.
  const stops: [number, number][] = [
    ...[0, 1, 7, 8, 100, weights >> 1, weights - 1, weights, weights + (state >> 1), weights + state - 1]
      .map((b): [number, number] => [b, -1]),
    [weights + state, -1],
    [weights + state + latest - 1, -1],
    // Renames: the checkpoint's folder into place, then latest.json over the old one.
    [-1, 0],
    [-1, 1],
  ];
  for (const [bytes, rename] of stops) {
    const dir = await Deno.makeTempDir({ prefix: "tailor_torn_" });
    await saveCheckpoint(dir, 1, checkpointOf(1));
    const said = await tornSave(dir, bytes, rename);
    const what = `killed ${bytes >= 0 ? `after ${bytes} bytes` : `before rename ${rename}`} (${said})`;
    assert.match(said, /^stopped/, what);
    // The previous checkpoint loads whole; the torn one is never what latest.json names.
    assertCheckpoint(await loadLatestCheckpoint(dir), 1, what);
    // Training resumed from there saves checkpoint 2 again, and that one loads.
    await saveCheckpoint(dir, 2, checkpointOf(2));
    assertCheckpoint(await loadLatestCheckpoint(dir), 2, `${what}, then saved again`);
  }
  // Not stopped: the child's checkpoint is the latest.
  const dir = await Deno.makeTempDir({ prefix: "tailor_torn_" });
  await saveCheckpoint(dir, 1, checkpointOf(1));
  assert.equal(await tornSave(dir, -1, -1), "saved");
  assertCheckpoint(await loadLatestCheckpoint(dir), 2, "a save that was not interrupted");
});
