import assert from "node:assert/strict";
import { join } from "node:path";
import { SEED } from "./_fixtures.ts";

const CLI = new URL("../../data/cli.ts", import.meta.url).pathname;

async function _run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write=/tmp", "--allow-env", "--allow-ffi", "--allow-sys", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test(`data CLI generates a synthetic set, ingests it, and reports a bad file in one line (seed ${SEED})`, async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "synth");
  const made = await _run("synth", "--preset", "ci", "--categories", "9", "--seed", String(SEED % 1000), "--out", out);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /train \+ \d+ val images, .* 3\/3\/3 r\/c\/f categories/);
  const ok = await _run("ingest", join(out, "annotations", "lvis_v1_val.json"), "--cache", join(dir, "cache"));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /\d+ images, \d+ annotations, 9 categories \(3 r, 3 c, 3 f\)/);
  assert.match(ok.stdout, /^0 errors; 0 warnings$/m);
  const bad = join(dir, "bad.json");
  await Deno.writeTextFile(
    bad,
    '{"images": [{"id": 1, "width": "wide", "height": 2}], "annotations": [], "categories": []}',
  );
  const failed = await _run("ingest", bad, "--cache", join(dir, "cache"));
  assert.equal(failed.code, 1);
  assert.equal(
    failed.stderr.trim(),
    `error: Cannot read "images[0].width" in "bad.json": expected number, got "wide" (1 error (malformed image: 1); 0 warnings)`,
  );
});

Deno.test("data ingest refuses a missing --image-root, warns of missing images, and states COCO's assumptions", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "coco");
  const made = await _run("synth", "--preset", "ci", "--categories", "5", "--format", "coco", "--out", out);
  assert.equal(made.code, 0, made.stderr);
  const val = join(out, "annotations", "instances_val.json");
  const nowhere = join(dir, "nonexistent");
  const refused = await _run("ingest", val, "--image-root", nowhere, "--cache", join(dir, "cache"));
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr.trim(), `error: Cannot use image folder "${nowhere}": no such folder`);
  await Deno.remove(join(out, "val"), { recursive: true });
  const ok = await _run("ingest", val, "--cache", join(dir, "cache"));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^0 errors; (\d+) warnings? \(missing image file: \1\)$/m);
  assert.match(ok.stdout, /^ {2}None of the \d+ image files is in ".*\): is the image folder right\?$/m);
  assert.match(ok.stdout, /^note: "instances_val\.json" has no category frequency: /m);
  assert.match(ok.stdout, /^note: "instances_val\.json" has no neg_category_ids or not_exhaustive_category_ids: /m);
  await Deno.remove(dir, { recursive: true });
});
