/**
 * End-to-end training tests of the detector on the CI-size synthetic set:
 * its loss falls, a resumed run equals an uninterrupted one bit for bit,
 * and a NaN loss stops training with the last checkpoint intact.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest, SEED } from "../_util.ts";
import { generateSynthetic } from "../../data/synth/generate.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import { createLoss } from "../../losses/registry.ts";
import { detectorConfig } from "../../model/config.ts";
import { trainDetector, type TrainOptions } from "../../model/trainer.ts";
import { trainingData } from "../../model/training_data.ts";
import { loadLatestCheckpoint } from "../../model/checkpoint/training.ts";
import { LrSchedule } from "../../model/schedule.ts";

const dir = await Deno.makeTempDir({ prefix: "tailor_detector_" });
let synth: Awaited<ReturnType<typeof generateSynthetic>> | null = null;

async function options(outDir: string, over: Partial<TrainOptions> = {}): Promise<TrainOptions> {
  synth ??= await generateSynthetic({ outDir: join(dir, "data"), preset: "ci", seed: SEED % 1000 });
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false, polygons: false });
  return {
    config: detectorConfig("tiny", {
      rpn: { preNmsTopK: 200, postNmsTopK: 50, nmsThreshold: 0.7, batchPerImage: 64, positiveFraction: 0.5 },
      roi: { poolSize: 4, samplingRatio: 2, batchPerImage: 32, positiveFraction: 0.25, fcDim: 64, fgIou: 0.5 },
    }),
    loss: createLoss("eqlv2", {}, { numClasses: dataset.categories.count }),
    data: trainingData({ dataset, seed: 3, repeatThreshold: 0.001, workers: 0, augment: { shortSides: [64] } }),
    outDir,
    iterations: 6,
    batchSize: 2,
    lr: LrSchedule.parse({ base: 0.01, warmupIters: 2 }),
    momentum: 0.9,
    weightDecay: 1e-4,
    clipNorm: 10,
    seed: 5,
    checkpointEvery: 3,
    statsEvery: 3,
    ...over,
  };
}

async function weightsOf(outDir: string): Promise<Map<string, Float32Array>> {
  const ck = await loadLatestCheckpoint(join(outDir, "checkpoints"));
  assert.ok(ck, `no checkpoint in ${outDir}`);
  return new Map([...ck.tensors].map(([k, v]) => [k, v.data]));
}

gpuTest("trainDetector() resumed after an interruption equals the uninterrupted run bit for bit", async () => {
  const a = join(dir, "uninterrupted"), b = join(dir, "resumed");
  const ra = await trainDetector(await options(a));
  ra.detector.params.dispose();
  const rb1 = await trainDetector(await options(b, { stopAfter: 3 }));
  assert.equal(rb1.steps, 3);
  rb1.detector.params.dispose();
  const rb2 = await trainDetector(await options(b));
  assert.equal(rb2.steps, 6);
  rb2.detector.params.dispose();
  const wa = await weightsOf(a), wb = await weightsOf(b);
  assert.deepEqual([...wa.keys()], [...wb.keys()]);
  let changed = 0;
  for (const [k, v] of wa) {
    assert.deepEqual(wb.get(k), v, `tensor ${k} differs after resume`);
    changed += v.some((x) => x !== 0) ? 1 : 0;
  }
  assert.ok(changed > 10, "weights were not trained");
  const logA = await Deno.readTextFile(join(a, "train_log.jsonl"));
  const logB = await Deno.readTextFile(join(b, "train_log.jsonl"));
  const losses = (s: string) => s.trim().split("\n").map((l) => JSON.parse(l).loss.total);
  assert.deepEqual(losses(logB), losses(logA));
});

gpuTest("trainDetector() stops on a NaN loss with a clear message and keeps the last checkpoint", async () => {
  const out = join(dir, "nan");
  const good = await trainDetector(await options(out, { iterations: 40, checkpointEvery: 2, stopAfter: 2 }));
  good.detector.params.dispose();
  const before = await weightsOf(out);
  // Resumed with a learning rate this large, the weights blow up within a step or two.
  const o = await options(out, {
    iterations: 40,
    checkpointEvery: 2,
    clipNorm: 0,
    lr: LrSchedule.parse({ base: 1e30 }),
  });
  await assert.rejects(() => trainDetector(o), /Training stopped at step \d+: the (loss is (NaN|Infinity)|weights of)/);
  assert.deepEqual(await weightsOf(out), before, "the last good checkpoint changed");
});

gpuTest("trainDetector() lowers the training loss of the tiny preset on the CI set", async () => {
  const out = join(dir, "learn");
  const r = await trainDetector(
    await options(out, { iterations: 40, checkpointEvery: 40, lr: LrSchedule.parse({ base: 0.02, warmupIters: 5 }) }),
  );
  r.detector.params.dispose();
  const totals = (await Deno.readTextFile(r.trainLog)).trim().split("\n").map((l) =>
    JSON.parse(l).loss.total as number
  );
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const first = mean(totals.slice(0, 8)), last = mean(totals.slice(-8));
  assert.ok(last < 0.8 * first, `loss did not fall: first steps ${first.toFixed(3)}, last ${last.toFixed(3)}`);
});
