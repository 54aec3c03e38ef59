/**
 * One training step of r50_fpn against torchvision's on the committed
 * fixture, with torchvision's draws injected (the anchors its RPN sampler
 * drew and the RoIs its RoI sampler kept, 64 per image) and its mask
 * targets: RoI labels and regression targets, each loss term, and the
 * gradients of named parameters in every part plus every parameter's
 * gradient sum and sum of squares, within 1e-3 relative.
 */
import assert from "node:assert/strict";
import { gpuTest } from "../_util.ts";
import { assertNear, summarize, torchvisionFixture } from "./_torchvision_fixture.ts";
import { fixtureBatch, fixtureDetector, NUM_CLASSES } from "./_r50_parity.ts";
import type { ImageTargets, MaskTargetSource } from "../../model/detector.ts";
import { createLoss } from "../../losses/registry.ts";
import { Rng } from "../../core/rng.ts";
import { backward, reshape } from "../../tensor/ops.ts";
import { concat } from "../../tensor/ops_shape.ts";
import { tidyAsync } from "../../tensor/tensor.ts";

const fx = torchvisionFixture();
const REL = 1e-3;

/** Mask targets as torchvision computed them, looked up by RoI box (the RoIs are torchvision's). */
function recordedMasks(b: number): MaskTargetSource {
  const rois = fx.get(`train.rois.${b}`).data, labels = fx.get(`train.roi_labels.${b}`).data;
  const targets = fx.get(`train.mask_targets.${b}`).data;
  const byBox = new Map<string, Float32Array>();
  let k = 0;
  labels.forEach((l, i) => {
    if (l > 0) byBox.set(Array.from(rois.subarray(4 * i, 4 * i + 4)).join(), targets.subarray(784 * k, 784 * ++k));
  });
  return {
    targets(boxes, _matched, size) {
      assert.equal(size, 28);
      const out = new Float32Array(boxes.length / 4 * 784);
      for (let i = 0; i < boxes.length / 4; i++) {
        const t = byBox.get(Array.from(boxes.subarray(4 * i, 4 * i + 4)).join());
        assert.ok(t, `no recorded mask target for RoI ${Array.from(boxes.subarray(4 * i, 4 * i + 4))}`);
        out.set(t, 784 * i);
      }
      return out;
    },
  };
}

function fixtureTargets(): ImageTargets[] {
  return [0, 1].map((b) => ({
    boxes: fx.get(`train.gt_boxes.${b}`).data,
    labels: Int32Array.from(fx.get(`train.gt_labels.${b}`).data, (l) => l - 1),
    masks: recordedMasks(b),
  }));
}

interface Step {
  losses: Record<string, number>;
  grads: Map<string, Float32Array>;
  shapes: Map<string, readonly number[]>;
}

let step: Promise<Step> | null = null;

function trainStep(): Promise<Step> {
  step ??= (async () => {
    const det = fixtureDetector();
    const ce = createLoss("ce", {}, { numClasses: NUM_CLASSES });
    const inject = {
      rpn: [0, 1].map((b) => ({
        positive: fx.get(`train.rpn_pos.${b}`).data,
        negative: fx.get(`train.rpn_neg.${b}`).data,
      })),
      rois: [0, 1].map((b) => fx.get(`train.rois.${b}`).data),
    };
    const out = await tidyAsync(async () => {
      const l = await det.losses(fixtureBatch(), fixtureTargets(), ce, new Rng(1), { inject });
      const names = ["rpn_cls", "rpn_box", "cls", "box", "mask"] as const;
      const values = await concat(names.map((k) => reshape(l[k]!, [1])), 0).toF32();
      backward(l.total);
      const losses: Record<string, number> = {};
      names.forEach((k, i) => losses[k] = values[i]);
      return losses;
    });
    const grads = new Map<string, Float32Array>(), shapes = new Map<string, readonly number[]>();
    for (const [name, t] of det.params.entries()) {
      shapes.set(name, t.shape);
      if (t.grad) grads.set(name, await t.grad.toF32());
    }
    det.params.dispose();
    ce.dispose();
    return { losses: out, grads, shapes };
  })();
  return step;
}

gpuTest(
  "Detector.labelRois() labels torchvision's sampled RoIs as its RoI heads did, with its regression targets",
  () => {
    const det = fixtureDetector();
    const rois = [0, 1].map((b) => fx.get(`train.rois.${b}`).data);
    const s = det.labelRois(rois, fixtureTargets());
    let row = 0;
    for (const b of [0, 1]) {
      const labels = fx.get(`train.roi_labels.${b}`).data, matched = fx.get(`train.roi_matched.${b}`).data;
      const targets = fx.get(`train.roi_targets.${b}`).data;
      labels.forEach((l, i) => {
        const mine = s.labels[row + i];
        assert.equal(mine, l > 0 ? l - 1 : NUM_CLASSES, `image ${b} RoI ${i}`);
        if (l === 0) return;
        assert.equal(s.matched[row + i], matched[i], `image ${b} RoI ${i} match`);
        assertNear(
          s.deltas.subarray(4 * (row + i), 4 * (row + i) + 4),
          targets.subarray(4 * i, 4 * i + 4),
          1e-6,
          `image ${b} RoI ${i} targets`,
        );
      });
      row += labels.length;
    }
    det.params.dispose();
  },
);

gpuTest("r50_fpn's training losses match torchvision's five loss terms within 1e-3 relative", async () => {
  const { losses } = await trainStep();
  const want = fx.meta.train.losses;
  const pairs: [string, string][] = [
    ["rpn_cls", "loss_objectness"],
    ["rpn_box", "loss_rpn_box_reg"],
    ["cls", "loss_classifier"],
    ["box", "loss_box_reg"],
    ["mask", "loss_mask"],
  ];
  for (const [mine, theirs] of pairs) {
    const err = Math.abs(losses[mine] - want[theirs]) / Math.abs(want[theirs]);
    assert.ok(err <= REL, `${mine}: ${losses[mine]}, torchvision's ${theirs} ${want[theirs]} (relative error ${err})`);
  }
});

gpuTest("r50_fpn's gradients match torchvision's in every part within 1e-3 relative", async () => {
  const { grads, shapes } = await trainStep();
  const want = fx.meta.train.grads;
  // Exactly torchvision's trainable parameters get gradients; the frozen stem, layer1 and batch norms none.
  assert.deepEqual([...grads.keys()].sort(), Object.keys(want).sort());
  for (const [name, g] of grads) {
    let sum = 0, sq = 0;
    for (const v of g) [sum, sq] = [sum + v, sq + v * v];
    const w = want[name];
    // A signed sum can cancel: its scale is that of the summed magnitudes, ~sqrt(n * sum of squares).
    const sumTol = REL * Math.sqrt(g.length * w.sum_squares);
    assert.ok(Math.abs(sum - w.sum) <= sumTol, `${name}: gradient sum ${sum}, torchvision ${w.sum}`);
    assert.ok(
      Math.abs(sq - w.sum_squares) <= 2 * REL * w.sum_squares,
      `${name}: sum of squares ${sq}, torchvision ${w.sum_squares}`,
    );
  }
  for (const name of Object.keys(fx.meta.summaries).filter((n) => n.startsWith("grad."))) {
    const param = name.slice(5), s = fx.meta.summaries[name];
    const got = summarize(grads.get(param)!, shapes.get(param)!, s);
    assertNear(got.strided, fx.get(`${name}.strided`).data, REL, `${param} gradient (every ${s.stride}th value)`);
    assertNear(got.sums, fx.get(`${name}.channel_sums`).data, REL, `${param} gradient row sums`);
  }
  for (const [key, t] of fx.tensors) {
    if (!key.startsWith("grad.") || key.endsWith(".strided") || key.endsWith(".channel_sums")) continue;
    assertNear(grads.get(key.slice(5))!, t.data, REL, `${key.slice(5)} gradient`);
  }
});
