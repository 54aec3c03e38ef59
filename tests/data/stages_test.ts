import assert from "node:assert/strict";
import { join } from "node:path";
import { directContext } from "../../pipeline/stage.ts";
import { ingestParams, ingestStage } from "../../tasks/ingest.ts";
import { synthParams, synthStage } from "../../tasks/synth.ts";
import { SEED } from "./_fixtures.ts";

Deno.test(`synth and ingest stages chain: the ingested counts are the generated ones (seed ${SEED})`, async () => {
  const synthDir = await Deno.makeTempDir();
  const params = synthParams.parse({ preset: "ci", categories: 12, imageSize: 48, seed: SEED % 1000 });
  const made = synthStage.output.parse(await synthStage.run(params, directContext(synthDir)));
  assert.equal(made.imageRoot, synthDir);
  assert.deepEqual([made.rare, made.common, made.frequent], [3, 5, 4]);
  const ingestDir = await Deno.makeTempDir();
  const ip = ingestParams.parse({ annotations: made.valJson, cacheDir: join(ingestDir, "cache") });
  const out = ingestStage.output.parse(await ingestStage.run(ip, directContext(ingestDir)));
  assert.equal(out.images, made.valImages);
  assert.equal(out.annotations, made.valAnnotations);
  assert.equal(out.categories, 12);
  assert.equal(out.imageRoot, synthDir);
  assert.equal(out.errors, 0);
  const report = JSON.parse(await Deno.readTextFile(out.report));
  assert.equal(report.contentHash, out.contentHash);
  assert.ok(synthParams.safeParse({ preset: "huge" }).success === false);
  assert.ok(ingestParams.safeParse({ annotations: "" }).success === false);
});
