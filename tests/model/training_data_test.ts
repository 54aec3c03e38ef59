import type { InstanceMasks } from "../../data/masks/training_masks.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { trainingData } from "../../model/training_data.ts";
import type { TrainingBatch } from "../../model/trainer.ts";
import { ciSet } from "../data/_fixtures.ts";

async function drain(it: AsyncIterableIterator<TrainingBatch> & { close(): void }): Promise<TrainingBatch[]> {
  const out: TrainingBatch[] = [];
  for await (const b of it) out.push(b);
  it.close();
  return out;
}

Deno.test("trainingData stops on a missing image, or skips and counts it with onBadImage: skip", async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  // Two annotated images copied into a fresh root; the third is missing there.
  const withAnn: number[] = [];
  for (let i = 0; i < dataset.images.count && withAnn.length < 3; i++) {
    if (dataset.images.annStart[i + 1] > dataset.images.annStart[i]) withAnn.push(i);
  }
  const root = await Deno.makeTempDir();
  const gone = { ...dataset, imageRoot: root };
  for (const i of [withAnn[0], withAnn[2]]) {
    const name = dataset.images.fileNames[i];
    await Deno.mkdir(join(root, name, ".."), { recursive: true });
    await Deno.copyFile(join(synth.imageRoot, name), join(root, name));
  }
  const missing = join(root, dataset.images.fileNames[withAnn[1]]);
  const order = Uint32Array.from(withAnn);

  const strict = trainingData({ dataset: gone, seed: 1, repeatThreshold: null, workers: 0 });
  await assert.rejects(
    () => drain(strict.stream(order, 3, 1)),
    (e: Error) => e.message.includes(JSON.stringify(missing)),
  );

  const lenient = trainingData({ dataset: gone, seed: 1, repeatThreshold: null, workers: 0, onBadImage: "skip" });
  assert.equal(lenient.skipped, 0);
  const batches = await drain(lenient.stream(order, 3, 1));
  assert.equal(batches.length, 1);
  assert.equal(batches[0].batch.batch, 2);
  assert.equal(lenient.skipped, 1);
  // A second pass over the same images counts again.
  await drain(lenient.stream(order, 3, 2));
  assert.equal(lenient.skipped, 2);
  await Deno.remove(root, { recursive: true });
});

Deno.test("trainingData with masks: true gives every target one mask per box at its image's network-input size", async () => {
  const synth = await ciSet();
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
  const data = trainingData({ dataset, seed: 1, repeatThreshold: null, workers: 0, masks: true });
  const [b] = await drain(data.stream(data.epochOrder(0).slice(0, 3), 3, 1));
  assert.equal(b.targets.length, 3);
  b.targets.forEach((t, i) => {
    const m = t.masks as InstanceMasks;
    assert.deepEqual([m.height, m.width], [b.batch.sizes[i].height, b.batch.sizes[i].width]);
    assert.equal(m.rles.length, t.boxes.length / 4);
    for (const rle of m.rles) assert.ok(rle.counts.length > 1, "a synthetic object has foreground");
  });
  const plain = trainingData({ dataset, seed: 1, repeatThreshold: null, workers: 0 });
  const [p] = await drain(plain.stream(plain.epochOrder(0).slice(0, 1), 1, 1));
  assert.equal(p.targets[0].masks, undefined);
});
