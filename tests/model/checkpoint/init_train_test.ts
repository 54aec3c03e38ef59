/**
 * Weights into a real detector: loadCheckpointInto() writes the GPU
 * parameters of a ParamStore, and trainDetector() starts from `init` or
 * refuses to start at all.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest, SEED } from "../../_util.ts";
import { Rng } from "../../../core/rng.ts";
import { generateSynthetic } from "../../../data/synth/generate.ts";
import { ingestDataset } from "../../../data/ingest_dataset.ts";
import { createLoss } from "../../../losses/registry.ts";
import { detectorConfig } from "../../../model/config.ts";
import { Detector } from "../../../model/detector.ts";
import { loadCheckpointInto } from "../../../model/checkpoint/load.ts";
import { type NamedArray, writeSafetensors } from "../../../model/checkpoint/safetensors.ts";
import { LrSchedule } from "../../../model/schedule.ts";
import { trainDetector } from "../../../model/trainer.ts";
import { trainingData } from "../../../model/training_data.ts";
import { assertRejectsInput } from "./_fixtures.ts";

const dir = await Deno.makeTempDir({ prefix: "tailor_init_" });
const PRED = "roi_heads.box_predictor";
/** The mask predictor's 1x1 convolution: one channel per class, so also made for the model's classes. */
const MASK = "roi_heads.mask_predictor.mask_fcn_logits";

function detector(classes: number, seed: number): Detector {
  const det = new Detector(detectorConfig("tiny"), classes, classes + 1, new Rng(seed));
  det.build();
  return det;
}

/** A detector's weights as a file, with optimizer slots as tailor's checkpoints have them. */
async function weightsFile(det: Detector, name: string): Promise<string> {
  const tensors = new Map<string, NamedArray>();
  for (const [k, t] of det.params.entries()) tensors.set(k, { shape: [...t.shape], data: await t.toF32() });
  const [first, t] = det.params.entries()[0];
  tensors.set(`optim.momentum.${first}`, { shape: [...t.shape], data: new Float32Array(t.size) });
  const file = join(dir, name);
  await writeSafetensors(file, tensors);
  return file;
}

gpuTest(
  `loadCheckpointInto() writes a ParamStore and keeps the classifier of another class count (seed ${SEED})`,
  async () => {
    const source = detector(5, SEED % 1000);
    const file = await weightsFile(source, "tiny5.safetensors");
    const same = detector(5, SEED % 1000 + 1), other = detector(7, SEED % 1000 + 1);
    const otherCls = await other.params.get(`${PRED}.cls_score.weight`)!.toF32();
    await loadCheckpointInto(same.params, file, { scope: "all" });
    const log: string[] = [];
    await loadCheckpointInto(other.params, file, { scope: "all", log: (l) => log.push(l) });
    for (const [k, t] of source.params.entries()) {
      const want = await t.toF32();
      assert.deepEqual(await same.params.get(k)!.toF32(), want, k);
      if (!k.startsWith(PRED) && !k.startsWith(MASK)) assert.deepEqual(await other.params.get(k)!.toF32(), want, k);
    }
    assert.deepEqual(await other.params.get(`${PRED}.cls_score.weight`)!.toF32(), otherCls);
    assert.ok(
      log.some((l) => l.includes("left out 1 tensors of the file on purpose (optimizer state)")),
      log.join("\n"),
    );
    assert.ok(
      log.some((l) =>
        l.startsWith(`re-initialised ${PRED}.cls_score.weight`) && l.endsWith("the file has 5 classes, the model 7")
      ),
      log.join("\n"),
    );
    for (const d of [source, same, other]) d.params.dispose();
  },
);

gpuTest("trainDetector() starts from init weights, and refuses a file that does not fit before any step", async () => {
  const synth = await generateSynthetic({ outDir: join(dir, "data"), preset: "ci", seed: SEED % 1000 });
  const { dataset } = await ingestDataset(synth.trainJson, { cache: false, polygons: false });
  const classes = dataset.categories.count;
  const source = detector(classes + 2, 3);
  const file = await weightsFile(source, "other_classes.safetensors");
  const options = (outDir: string, weights: string) => ({
    config: detectorConfig("tiny"),
    loss: createLoss("eqlv2", {}, { numClasses: classes }),
    data: trainingData({ dataset, seed: 3, repeatThreshold: null, workers: 0, augment: { shortSides: [64] } }),
    outDir,
    iterations: 1,
    batchSize: 1,
    lr: LrSchedule.parse({ base: 0.01, warmupIters: 0 }),
    momentum: 0,
    weightDecay: 0,
    clipNorm: 0,
    seed: 5,
    checkpointEvery: 1,
    statsEvery: 1,
    init: { weights, scope: "all" as const },
    // No step: the weights are the ones loaded.
    stopAfter: 0,
  });
  const log: string[] = [];
  const run = await trainDetector({ ...options(join(dir, "run"), file), log: (l) => log.push(l) });
  assert.ok(log.some((l) => l.startsWith(`loaded `) && l.includes(file)), log.join("\n"));
  // The predictors (classifier, box regressor, mask logits) are made for the model's classes, as torchvision
  // fine-tuning does.
  const note = `re-initialised ${PRED}.cls_score.weight, ${PRED}.cls_score.bias, ${PRED}.bbox_pred.weight, ` +
    `${PRED}.bbox_pred.bias, ${MASK}.weight, ${MASK}.bias: the file has ${classes + 2} classes, the model ${classes}`;
  assert.ok(log.includes(note), log.join("\n"));
  const [name, t] = run.detector.params.entries()[0];
  assert.deepEqual(await t.toF32(), await source.params.get(name)!.toF32());
  run.detector.params.dispose();

  const broken = new Map([["backbone.not_a_layer.weight", { shape: [2], data: Float32Array.of(1, 2) }]]);
  await writeSafetensors(join(dir, "broken.safetensors"), broken);
  const out = join(dir, "refused");
  await assertRejectsInput(
    () => trainDetector(options(out, join(dir, "broken.safetensors"))),
    "broken.safetensors",
    "is not a checkpoint",
  );
  assert.deepEqual([...Deno.readDirSync(join(out, "checkpoints"))], [], "a refused run wrote a checkpoint");
  source.params.dispose();
});
