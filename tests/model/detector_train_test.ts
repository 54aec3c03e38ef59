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
import { type ClassificationLoss, createLoss } from "../../losses/mod.ts";
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
      rpn: { preNmsTopK: 200, postNmsTopK: 50, batchPerImage: 64 },
      roi: { batchPerImage: 32 },
      boxHead: { poolSize: 4, fcDim: 64 },
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

/** The loss with its forward's loss value replaced by NaN on call `at` (0-based): step `at` of a fresh run. */
function nanAt(loss: ClassificationLoss, at: number): ClassificationLoss {
  let calls = 0;
  return new Proxy(loss, {
    get(target, key) {
      if (key === "forward") {
        return (...args: Parameters<ClassificationLoss["forward"]>) => {
          const out = target.forward(...args);
          if (calls++ === at) out.loss.write([NaN]);
          return out;
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

gpuTest(
  "trainDetector() stops at the step whose loss is NaN, keeping the last checkpoint as a clean run wrote it",
  async () => {
    const clean = join(dir, "nan_clean"), hit = join(dir, "nan_hit");
    const run = await trainDetector(await options(clean, { iterations: 40, checkpointEvery: 2, stopAfter: 4 }));
    run.detector.params.dispose();
    // Steps 0-4 run; step 5's loss is NaN. Checkpoints follow steps 1 and 3 (checkpoints 2 and 4).
    const o = await options(hit, { iterations: 40, checkpointEvery: 2 });
    await assert.rejects(
      () => trainDetector({ ...o, loss: nanAt(o.loss, 5) }),
      /^InputError: Training stopped at step 5: the loss is NaN .*the last good checkpoint is in/,
    );
    const ck = await loadLatestCheckpoint(join(hit, "checkpoints"));
    assert.equal(ck?.step, 4, "the latest checkpoint is the one before the NaN step");
    const saved = [...Deno.readDirSync(join(hit, "checkpoints"))].map((e) => e.name).filter((n) =>
      n.startsWith("step_")
    );
    assert.deepEqual(saved.sort(), ["step_00000002", "step_00000004"]);
    assert.deepEqual(await weightsOf(hit), await weightsOf(clean), "checkpoint 4 differs from the clean run's");
    const log = (await Deno.readTextFile(join(hit, "train_log.jsonl"))).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(log.map((l) => l.step), [1, 2, 3, 4], "the log ends at the checkpoint");
  },
);

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
