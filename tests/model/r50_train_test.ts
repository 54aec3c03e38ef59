/**
 * A few training steps of a reduced r50_fpn (two 128 x 192 images, 64
 * anchors and 32 RoIs per image) with EQL v2 and masks, from scratch: the
 * whole path of the papers' detector trains, and its loss falls.
 */
import assert from "node:assert/strict";
import { gpuTest, SEED } from "../_util.ts";
import { ellipseMasks } from "./_ellipse_masks.ts";
import { fixtureBatch } from "./_r50_parity.ts";
import { Rng } from "../../core/rng.ts";
import { createLoss } from "../../losses/registry.ts";
import { detectorConfig } from "../../model/config.ts";
import { Detector } from "../../model/detector.ts";
import { backward, reshape } from "../../tensor/ops.ts";
import { concat } from "../../tensor/ops_shape.ts";
import { SGD } from "../../tensor/optim.ts";
import { tidyAsync } from "../../tensor/tensor.ts";

gpuTest(`a reduced r50_fpn with EQL v2 and masks lowers its training loss in 8 steps (seed ${SEED})`, async () => {
  const C = 5;
  const cfg = detectorConfig("r50_fpn", {
    rpn: { batchPerImage: 64, preNmsTopK: 300, postNmsTopK: 100 },
    roi: { batchPerImage: 32 },
  });
  const det = new Detector(cfg, C, C + 1, new Rng(SEED), 0.001, { loss: "eqlv2" });
  det.build();
  const loss = createLoss("eqlv2", {}, { numClasses: C });
  const batch = fixtureBatch();
  const targets = [0, 1].map((b) => {
    const boxes = b === 0
      ? Float32Array.of(12, 10, 70, 60, 90, 40, 170, 120, 40, 70, 100, 125)
      : Float32Array.of(20, 15, 60, 90, 80, 20, 150, 70, 70, 60, 140, 110);
    return { boxes, labels: Int32Array.of(b, 2 + b, 4), masks: ellipseMasks(boxes) };
  });
  const opt = new SGD(det.params.trainable().map(([, t]) => t), { lr: 0.02, momentum: 0.9, weightDecay: 1e-4 });
  const totals: number[] = [];
  for (let step = 0; step < 8; step++) {
    const parts = await tidyAsync(async () => {
      const l = await det.losses(batch, targets, loss, new Rng(SEED + step));
      const names = ["total", "rpn_cls", "rpn_box", "cls", "box", "mask"] as const;
      const v = await concat(names.map((k) => reshape(l[k]!, [1])), 0).toF32();
      backward(l.total, undefined, { releaseGraph: true });
      opt.step(0.02);
      opt.zeroGrad();
      return Object.fromEntries(names.map((k, i) => [k, v[i]]));
    });
    for (const [k, v] of Object.entries(parts)) assert.ok(Number.isFinite(v), `step ${step}: ${k} is ${v}`);
    assert.ok(parts.mask > 0, "the mask loss takes part");
    totals.push(parts.total);
  }
  const first = (totals[0] + totals[1]) / 2, last = (totals[6] + totals[7]) / 2;
  assert.ok(last < 0.8 * first, `loss did not fall: ${totals.map((t) => t.toFixed(3)).join(", ")}`);
  opt.dispose();
  loss.dispose();
  det.params.dispose();
});
