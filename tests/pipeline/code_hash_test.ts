import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { moduleCodeHash } from "../../pipeline/code_hash.ts";

Deno.test("moduleCodeHash() changes with a local import's source and ignores unrelated files", async () => {
  const dir = await Deno.makeTempDir();
  const salt = Math.random().toString(36).slice(2);
  await Deno.writeTextFile(
    join(dir, "stage.ts"),
    `import { z } from "zod";\nimport {\n  helper,\n} from "./helper.ts";\n`,
  );
  await Deno.writeTextFile(join(dir, "helper.ts"), `export const helper = "${salt}";\n`);
  await Deno.writeTextFile(join(dir, "other.ts"), `export const other = 1;\n`);
  // A fresh query string per call defeats the per-process cache, as a new process would.
  const hash = (n: number) => moduleCodeHash(`${pathToFileURL(join(dir, "stage.ts")).href}?${n}`);
  const first = await hash(1);
  await Deno.writeTextFile(join(dir, "other.ts"), `export const other = 2;\n`);
  assert.equal(await hash(2), first);
  await Deno.writeTextFile(join(dir, "helper.ts"), `export const helper = "${salt}!";\n`);
  assert.notEqual(await hash(3), first);
  await Deno.remove(dir, { recursive: true });
});
