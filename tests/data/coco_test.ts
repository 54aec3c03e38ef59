/**
 * Own data in COCO format: no category frequency, no neg_category_ids or
 * not_exhaustive_category_ids. Groups come from training-image counts with
 * LVIS's thresholds, every image is taken as exhaustively labelled, and both
 * are said; images are looked for when a file is ingested.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../../core/errors.ts";
import { frequencyOfImageCount } from "../../data/dataset.ts";
import { datasetNotes, writeTrainingFrequencies } from "../../data/dataset_notes.ts";
import { findMissingImages, missingImagesMessage } from "../../data/image_files.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { directContext } from "../../pipeline/stage.ts";
import { ingestParams, ingestStage } from "../../tasks/ingest.ts";
import { synthParams, synthStage } from "../../tasks/synth.ts";
import { SEED } from "./_fixtures.ts";

Deno.test("frequencyOfImageCount() uses LVIS's groups: rare 1-10 training images, common 11-100, frequent > 100", () => {
  assert.deepEqual([0, 1, 10, 11, 100, 101, 5000].map(frequencyOfImageCount), ["r", "r", "r", "c", "c", "f", "f"]);
});

/** A COCO-format synthetic set (its own data, as a user would have it). */
async function cocoSet() {
  const dir = await Deno.makeTempDir();
  const params = synthParams.parse({ preset: "ci", format: "coco", categories: 9, imageSize: 40, seed: SEED % 1000 });
  return synthStage.output.parse(await synthStage.run(params, directContext(dir)));
}

Deno.test(`synth writes COCO files without LVIS's fields, every instance labelled (seed ${SEED})`, async () => {
  const coco = await cocoSet();
  assert.match(coco.trainJson, /annotations\/instances_train\.json$/);
  const json = JSON.parse(await Deno.readTextFile(coco.trainJson));
  assert.deepEqual(Object.keys(json.categories[0]).sort(), ["id", "name", "supercategory"]);
  assert.ok(json.images.every((im: Record<string, unknown>) => !("neg_category_ids" in im)));
  assert.ok(json.images.every((im: Record<string, unknown>) => !("not_exhaustive_category_ids" in im)));
  // The same images as the LVIS set of the same seed, with the instances LVIS's federated labels leave out.
  const lvisDir = await Deno.makeTempDir();
  const lvisParams = synthParams.parse({ preset: "ci", categories: 9, imageSize: 40, seed: SEED % 1000 });
  const lvis = synthStage.output.parse(await synthStage.run(lvisParams, directContext(lvisDir)));
  assert.equal(coco.trainImages, lvis.trainImages);
  assert.ok(coco.trainAnnotations >= lvis.trainAnnotations, `${coco.trainAnnotations} < ${lvis.trainAnnotations}`);
  const png = "train/000000000001.png";
  assert.deepEqual(await Deno.readFile(join(coco.imageRoot, png)), await Deno.readFile(join(lvis.imageRoot, png)));
  const { dataset } = await ingestDataset(coco.trainJson, { cache: false });
  assert.equal(dataset.format, "coco");
  assert.deepEqual(dataset.assumed, { frequency: true, exhaustive: true });
  const counts = Array.from(dataset.categories.imageCount);
  assert.deepEqual(
    Array.from(dataset.categories.frequency),
    counts.map((n) => ["r", "c", "f"].indexOf(frequencyOfImageCount(n))),
  );
  const notes = datasetNotes(dataset);
  assert.equal(notes.length, 2);
  assert.match(
    notes[0],
    /^"instances_train\.json" has no category frequency: .*rare 1-10 training images, common 11-100, frequent > 100\): \d+ rare, \d+ common, \d+ frequent$/,
  );
  assert.match(
    notes[1],
    /^"instances_train\.json" has no neg_category_ids or not_exhaustive_category_ids: every image is taken as exhaustively labelled/,
  );
});

Deno.test(`the ingest stage gives a COCO val file the training set's frequency groups, and says so (seed ${SEED})`, async () => {
  const coco = await cocoSet();
  const out = await Deno.makeTempDir();
  const logs: string[] = [];
  const params = ingestParams.parse({
    annotations: coco.valJson,
    imageRoot: coco.imageRoot,
    cacheDir: join(out, "cache"),
    frequencyFrom: coco.trainJson,
  });
  const r = ingestStage.output.parse(await ingestStage.run(params, directContext(out, (m) => logs.push(m))));
  assert.notEqual(r.gt, r.source, "a copy with the groups is written");
  const gt = JSON.parse(await Deno.readTextFile(r.gt));
  const train = (await ingestDataset(coco.trainJson, { cache: false })).dataset;
  const trainCount = new Map(Array.from(train.categories.ids, (id, i) => [id, train.categories.imageCount[i]]));
  for (const c of gt.categories) {
    assert.equal(c.image_count, trainCount.get(c.id) ?? 0, `category ${c.id}`);
    assert.equal(c.frequency, frequencyOfImageCount(c.image_count), `category ${c.id}`);
  }
  const source = JSON.parse(await Deno.readTextFile(coco.valJson));
  assert.deepEqual(gt.images, source.images, "everything else is copied unchanged");
  assert.deepEqual(gt.annotations, source.annotations);
  assert.equal(r.rare + r.common + r.frequent, 9);
  assert.equal(
    r.rare,
    gt.categories.filter((c: { frequency: string }) => c.frequency === "r").length,
  );
  assert.equal(r.notes.length, 2);
  assert.match(
    r.notes[0],
    /^the frequency groups of "instances_val\.json" come from the training images of each category in "instances_train\.json"/,
  );
  assert.ok(logs.includes(`note: ${r.notes[1]}`), logs.join("\n"));
  assert.equal(r.missingImages, 0);
  // An LVIS file keeps its own groups and is evaluated as it is.
  const lvisDir = await Deno.makeTempDir();
  const lvis = synthStage.output.parse(
    await synthStage.run(synthParams.parse({ preset: "ci", categories: 5, seed: 2 }), directContext(lvisDir)),
  );
  const p2 = ingestParams.parse({
    annotations: lvis.valJson,
    cacheDir: join(out, "cache"),
    frequencyFrom: lvis.trainJson,
  });
  const r2 = ingestStage.output.parse(await ingestStage.run(p2, directContext(await Deno.makeTempDir())));
  assert.equal(r2.gt, r2.source);
  assert.deepEqual(r2.notes, []);
});

Deno.test(`ingestion refuses a missing image folder and counts missing image files (seed ${SEED})`, async () => {
  const coco = await cocoSet();
  const nowhere = join(coco.imageRoot, "no_such_folder");
  await assert.rejects(
    () => ingestDataset(coco.valJson, { imageRoot: nowhere, cache: false }),
    (e: Error) => e instanceof InputError && e.message === `Cannot use image folder "${nowhere}": no such folder`,
  );
  await assert.rejects(
    () => ingestDataset(coco.valJson, { imageRoot: coco.valJson, cache: false }),
    /Cannot use image folder ".*instances_val\.json": it is a file/,
  );
  const { dataset } = await ingestDataset(coco.valJson, { imageRoot: coco.imageRoot, cache: false });
  assert.deepEqual(await findMissingImages(dataset), { count: 0, examples: [] });
  const gone = [1, 3].map((i) => join(coco.imageRoot, dataset.images.fileNames[i]));
  for (const g of gone) await Deno.remove(g);
  const missing = await findMissingImages(dataset);
  assert.deepEqual(missing, { count: 2, examples: gone });
  assert.equal(
    missingImagesMessage(missing, dataset.images.count, coco.imageRoot),
    `2 of ${dataset.images.count} image files are missing under "${coco.imageRoot}", e.g. "${gone[0]}"`,
  );
  const empty = { ...dataset, imageRoot: await Deno.makeTempDir() };
  const all = await findMissingImages(empty);
  assert.equal(all.count, dataset.images.count);
  assert.match(
    missingImagesMessage(all, dataset.images.count, empty.imageRoot)!,
    /^None of the \d+ image files is in .*: is the image folder right\?$/,
  );
});

Deno.test("writeTrainingFrequencies() names a file it cannot read", async () => {
  const bad = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(bad, '{"images": [], "categories": 3}');
  const out = await Deno.makeTempDir();
  const { dataset } = await ingestDataset(
    new URL("../../examples/coco_tiny/annotations/instances_train.json", import.meta.url).pathname,
    { cache: false },
  );
  await assert.rejects(
    () => writeTrainingFrequencies(bad, dataset, join(out, "gt.json")),
    (e: Error) =>
      e instanceof InputError && e.message === `Cannot read "categories" in ${JSON.stringify(bad)}: expected a list`,
  );
});
