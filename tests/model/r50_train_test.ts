/**
 * Training steps of a reduced r50_fpn with EQL v2 and masks, from scratch:
 * the whole path of the papers' detector trains stably, and its loss falls.
 * Reduced: two 64 x 96 images of coloured ellipses (the objects), 64
 * anchors and 32 RoIs per image, layer4 the only backbone stage that trains
 * (stem to layer3 frozen), and narrower box and mask heads (the full-width
 * heads have their own parity tests; here they would be most of the step).
 */
import assert from "node:assert/strict";
import { gpuTest, SEED } from "../_util.ts";
import { ellipseMasks } from "./_ellipse_masks.ts";
import { Rng } from "../../core/rng.ts";
import { createLoss } from "../../losses/registry.ts";
import { detectorConfig } from "../../model/config.ts";
import { Detector, type ImageBatch, type ImageTargets } from "../../model/detector.ts";
import { learningRate, LrSchedule } from "../../model/schedule.ts";
import { backward, reshape } from "../../tensor/ops.ts";
import { concat } from "../../tensor/ops_shape.ts";
import { SGD } from "../../tensor/optim.ts";
import { tidyAsync } from "../../tensor/tensor.ts";

const [H, W] = [64, 96];
const C = 5;
/** A normalised colour per category, so that the classes can be told apart. */
const PALETTE = [[1.5, -1, 0], [-1, 1.5, 0.5], [0, -1, 1.5], [1, 1, -1], [-1.5, 0, 1]];

function targetsOf(b: number): ImageTargets {
  const boxes = b === 0
    ? Float32Array.of(6, 5, 35, 30, 45, 20, 85, 60, 20, 35, 50, 62)
    : Float32Array.of(10, 8, 30, 45, 40, 10, 75, 35, 35, 30, 70, 55);
  return { boxes, labels: Int32Array.of(b, 2 + b, 4), masks: ellipseMasks(boxes) };
}

/** Each object's ellipse in its category's colour over noise (later objects on top). */
function imagesOf(targets: ImageTargets[], r: Rng): ImageBatch {
  const images = new Float32Array(targets.length * 3 * H * W);
  targets.forEach(({ boxes, labels }, b) => {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let colour = [0, 0, 0];
        labels.forEach((label, o) => {
          const [x1, y1, x2, y2] = boxes.subarray(4 * o, 4 * o + 4);
          const dx = (x + 0.5 - (x1 + x2) / 2) / ((x2 - x1) / 2), dy = (y + 0.5 - (y1 + y2) / 2) / ((y2 - y1) / 2);
          if (dx * dx + dy * dy <= 1) colour = PALETTE[label];
        });
        for (let c = 0; c < 3; c++) images[((b * 3 + c) * H + y) * W + x] = colour[c] + r.uniform(-0.5, 0.5);
      }
    }
  });
  return { images, batch: targets.length, height: H, width: W, sizes: targets.map(() => ({ height: H, width: W })) };
}

gpuTest(`a reduced r50_fpn with EQL v2 and masks lowers its training loss in 8 steps (seed ${SEED})`, async () => {
  const cfg = detectorConfig("r50_fpn", {
    backbone: { kind: "resnet", trainableLayers: 1 },
    rpn: { batchPerImage: 64, preNmsTopK: 300, postNmsTopK: 100 },
    roi: { batchPerImage: 32 },
    boxHead: { kind: "two_fc", fcDim: 256 },
    maskHead: { kind: "fcn", layers: [64, 64], reducedChannels: 64 },
  });
  const det = new Detector(cfg, C, C + 1, new Rng(SEED), 0.001, { loss: "eqlv2" });
  det.build();
  const loss = createLoss("eqlv2", {}, { numClasses: C });
  const targets = [0, 1].map(targetsOf);
  const batch = imagesOf(targets, new Rng(SEED + 1));
  // As torchvision's reference recipe, a linear warm-up: from scratch, without it, the first
  // full-rate steps with momentum throw the classifier out (the loss grows by orders of magnitude).
  const steps = 8;
  const schedule = LrSchedule.parse({ base: 0.01, warmupIters: 4, warmupFactor: 0.1, decay: "none" });
  const opt = new SGD(det.params.trainable().map(([, t]) => t), {
    lr: schedule.base,
    momentum: 0.9,
    weightDecay: 1e-4,
  });
  const totals: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const parts = await tidyAsync(async () => {
        const l = await det.losses(batch, targets, loss, new Rng(SEED + step));
        const names = ["total", "rpn_cls", "rpn_box", "cls", "box", "mask"] as const;
        const v = await concat(names.map((k) => reshape(l[k]!, [1])), 0).toF32();
        backward(l.total, undefined, { releaseGraph: true });
        opt.step(learningRate(schedule, step, steps));
        opt.zeroGrad();
        return Object.fromEntries(names.map((k, i) => [k, v[i]]));
      });
      for (const [k, v] of Object.entries(parts)) assert.ok(Number.isFinite(v), `step ${step}: ${k} is ${v}`);
      assert.ok(parts.mask > 0, "the mask loss takes part");
      totals.push(parts.total);
    }
    // Three-step means: the sampled RoIs and their foreground share, and so the loss, vary from
    // step to step (by up to ~30% at this size).
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const first = mean(totals.slice(0, 3)), last = mean(totals.slice(-3));
    assert.ok(last < 0.85 * first, `loss did not fall: ${totals.map((t) => t.toFixed(3)).join(", ")}`);
  } finally {
    opt.dispose();
    loss.dispose();
    det.params.dispose();
  }
});
