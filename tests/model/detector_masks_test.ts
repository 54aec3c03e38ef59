/**
 * The mask branch of the small presets on real mask data (the CI synthetic
 * set's polygons): a tiny detector's mask loss falls as it trains, and RoIs
 * whose ground truth has no mask take no part in the mask loss.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest, SEED } from "../_util.ts";
import { Rng } from "../../core/rng.ts";
import { generateSynthetic } from "../../data/synth/generate.ts";
import { ingestDataset } from "../../data/ingest_dataset.ts";
import type { InstanceMasks } from "../../data/masks/training_masks.ts";
import { createLoss } from "../../losses/registry.ts";
import { detectorConfig } from "../../model/config.ts";
import { Detector, type ImageTargets } from "../../model/detector.ts";
import type { TrainingBatch } from "../../model/trainer.ts";
import { trainingData } from "../../model/training_data.ts";
import { backward } from "../../tensor/ops.ts";
import { SGD } from "../../tensor/optim.ts";
import { tidyAsync } from "../../tensor/tensor.ts";

const dir = await Deno.makeTempDir({ prefix: "tailor_det_masks_" });
let synth: ReturnType<typeof generateSynthetic> | null = null;

/** The first batch of two CI-set images with their masks, and the category count. */
async function maskBatch(seed: number): Promise<TrainingBatch & { numClasses: number }> {
  synth ??= generateSynthetic({ outDir: join(dir, "data"), preset: "ci", seed: seed % 1000 });
  const { dataset } = await ingestDataset((await synth).trainJson, { cache: false, masks: true });
  const data = trainingData({
    dataset,
    seed,
    repeatThreshold: null,
    workers: 0,
    augment: { shortSides: [64] },
    masks: true,
  });
  const stream = data.stream(data.epochOrder(0).slice(0, 2), 2, seed);
  const first = await stream.next();
  stream.close();
  return { ...first.value!, numClasses: data.numClasses };
}

function tinyDetector(numClasses: number, seed: number): Detector {
  const cfg = detectorConfig("tiny", { rpn: { preNmsTopK: 200, postNmsTopK: 50, batchPerImage: 64 } });
  const det = new Detector(cfg, numClasses, numClasses + 1, new Rng(seed), 0.001, { loss: "eqlv2" });
  det.build();
  return det;
}

const LR = 0.05, STEPS = 20;

gpuTest(`a tiny detector trained on masks from polygons lowers its mask loss (seed ${SEED})`, async () => {
  const { batch, targets, numClasses } = await maskBatch(SEED);
  assert.ok(targets.every((t) => t.masks && "rles" in t.masks), "the batch carries instance masks");
  const det = tinyDetector(numClasses, SEED);
  const loss = createLoss("eqlv2", {}, { numClasses });
  // Only the mask head trains: the other losses moving the shared features would make the mask
  // loss wander, and what is under test is the mask branch's gradient.
  const head = det.params.trainable().filter(([name]) => name.startsWith("roi_heads.mask_"));
  assert.ok(head.length >= 4, "the mask head has parameters");
  const opt = new SGD(head.map(([, t]) => t), { lr: LR, momentum: 0.9, clipNorm: 10 });
  const masks: number[] = [];
  const rois = targets.map((t) => t.boxes);
  // One batch, again and again, with the same RoIs: the mask head must fit its targets.
  for (let step = 0; step < STEPS; step++) {
    masks.push(
      await tidyAsync(async () => {
        // The ground-truth boxes as the RoIs: the mask head sees the same foreground every step,
        // where proposals would change as the RPN trains and make the loss wander.
        const l = await det.losses(batch, targets, loss, new Rng(SEED), { inject: { rois } });
        assert.ok(l.mask && l.maskRois! > 0, `step ${step}: no mask loss over foreground RoIs`);
        const v = (await l.mask.toF32())[0];
        backward(l.total, undefined, { releaseGraph: true });
        opt.step(LR);
        opt.zeroGrad();
        return v;
      }),
    );
  }
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  // Against the untrained head's loss; ratios 0.49-0.74 over seven seeds.
  const first = masks[0], last = mean(masks.slice(-3));
  assert.ok(last < 0.9 * first, `mask loss did not fall: ${masks.map((m) => m.toFixed(3)).join(", ")}`);
  opt.dispose();
  loss.dispose();
  det.params.dispose();
});

gpuTest(`RoIs matched to a ground truth without a mask add nothing to the mask loss (seed ${SEED})`, async () => {
  const { batch, targets, numClasses } = await maskBatch(SEED + 1);
  const det = tinyDetector(numClasses, SEED);
  const loss = createLoss("eqlv2", {}, { numClasses });
  // Each image's RoIs are its ground-truth boxes: all foreground, each matched to its own box.
  const rois = targets.map((t) => t.boxes);
  const withMask = (t: ImageTargets, fill: "empty" | "full", missing: boolean): ImageTargets => {
    const m = t.masks as InstanceMasks, n = m.height * m.width;
    const rles = m.rles.map((r, i) =>
      i === 0 ? { ...r, counts: fill === "empty" ? Uint32Array.of(n) : Uint32Array.of(0, n) } : r
    );
    const flags = new Uint8Array(rles.length);
    flags[0] = missing ? 1 : 0;
    return { ...t, masks: { ...m, rles, ...(missing ? { missing: flags } : {}) } };
  };
  const maskLoss = (ts: ImageTargets[]) =>
    tidyAsync(async () => {
      const l = await det.losses(batch, ts, loss, new Rng(1), { inject: { rois } });
      return { value: (await l.mask!.toF32())[0], rois: l.maskRois! };
    });
  const boxes = targets.reduce((a, t) => a + t.labels.length, 0);
  // The first box of each image has no mask: whether its stand-in is empty or full must not matter.
  const a = await maskLoss(targets.map((t) => withMask(t, "empty", true)));
  const b = await maskLoss(targets.map((t) => withMask(t, "full", true)));
  assert.equal(a.rois, boxes - targets.length);
  assert.equal(a.value, b.value);
  assert.ok(a.value > 0);
  // Control: with the mask counted, the stand-in changes the loss, so the check above can fail.
  const c = await maskLoss(targets.map((t) => withMask(t, "empty", false)));
  const d = await maskLoss(targets.map((t) => withMask(t, "full", false)));
  assert.equal(c.rois, boxes);
  assert.notEqual(c.value, d.value);
  // No mask at all: a zero loss, and zero RoIs to say so.
  const none = targets.map((t) => {
    const m = t.masks as InstanceMasks;
    return { ...t, masks: { ...m, missing: new Uint8Array(m.rles.length).fill(1) } };
  });
  const e = await maskLoss(none);
  assert.deepEqual(e, { value: 0, rois: 0 });
  loss.dispose();
  det.params.dispose();
});
