import assert from "node:assert/strict";
import { join } from "node:path";
import { readDatasetCache, writeDatasetCache } from "../../data/dataset_cache.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { ciSet, SEED } from "./_fixtures.ts";

Deno.test(`readDatasetCache() returns every column as written (seed ${SEED})`, async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.valJson, { cache: false });
  const path = join(await Deno.makeTempDir(), "val.tds");
  await writeDatasetCache(dataset, path);
  const back = await readDatasetCache(path);
  assert.deepEqual(back, dataset);
  const boxesOnly = await readDatasetCache(path, { masks: false });
  assert.equal(boxesOnly.hasMasks, false);
  assert.equal(boxesOnly.annotations.coords.length, 0);
  assert.equal(boxesOnly.annotations.rleCounts.length, 0);
  assert.deepEqual(boxesOnly.annotations.bbox, dataset.annotations.bbox);
});

Deno.test("ingestDataset() reuses its content-hashed cache until the file changes", async () => {
  const synth = await ciSet();
  const dir = await Deno.makeTempDir();
  const file = join(dir, "train.json");
  await Deno.copyFile(synth.trainJson, file);
  const cache = join(dir, "cache");
  const first = await ingestDataset(file, { cache });
  assert.equal(first.fromCache, false);
  assert.match(first.cachePath!, new RegExp(`${first.dataset.contentHash}\\.tds$`));
  const again = await ingestDataset(file, { cache });
  assert.equal(again.fromCache, true);
  assert.deepEqual(again.dataset, first.dataset);
  const j = JSON.parse(await Deno.readTextFile(file));
  j.annotations.pop();
  await Deno.writeTextFile(file, JSON.stringify(j));
  const changed = await ingestDataset(file, { cache });
  assert.equal(changed.fromCache, false);
  assert.notEqual(changed.dataset.contentHash, first.dataset.contentHash);
  assert.equal(changed.dataset.annotations.count, first.dataset.annotations.count - 1);
});

Deno.test("ingestDataset() still fails on a cached file whose errors were skipped before", async () => {
  const synth = await ciSet();
  const dir = await Deno.makeTempDir();
  const file = join(dir, "train.json");
  const j = JSON.parse(await Deno.readTextFile(synth.trainJson));
  j.annotations[0].category_id = 999;
  await Deno.writeTextFile(file, JSON.stringify(j));
  const cache = join(dir, "cache");
  const skipped = await ingestDataset(file, { cache, onError: "skip" });
  assert.equal(skipped.dataset.annotations.count, j.annotations.length - 1);
  await assert.rejects(
    () => ingestDataset(file, { cache }),
    /Unknown category in "annotations\[0\]\.category_id" in "train\.json": 999/,
  );
  assert.equal((await ingestDataset(file, { cache, onError: "skip" })).fromCache, true);
});
