import assert from "node:assert/strict";
import { gpuTest, rng } from "../_util.ts";
import { Rng } from "../../core/rng.ts";
import { detectorConfig } from "../../model/config.ts";
import { Detector } from "../../model/detector.ts";
import type { ClassificationLoss } from "../../losses/loss.ts";
import { Tensor, tidyAsync } from "../../tensor/tensor.ts";

/** Scores that encode their class: every row scores class c as (c + 1) / (C + 2), in `width` columns. */
function classEncodingLoss(C: number, width: number): ClassificationLoss {
  return {
    name: "test",
    numClasses: C,
    columns: width,
    scores(logits: Tensor) {
      const R = logits.shape[0];
      return Tensor.from(Float32Array.from({ length: R * width }, (_, i) => ((i % width) + 1) / (C + 2)), [R, width]);
    },
  } as unknown as ClassificationLoss;
}

for (const extra of [0, 1]) {
  gpuTest(
    `Detector.predict() pairs each box with its class's score when scores have C${extra ? "+1" : ""} columns`,
    async () => {
      const C = 7, r = rng(41 + extra);
      const det = new Detector(
        detectorConfig("tiny", { test: { scoreThreshold: 0, detectionsPerImage: 50, proposals: 20 } }),
        C,
        C + extra,
        new Rng(3),
      );
      det.build();
      const side = 64;
      const images = Float32Array.from({ length: 2 * 3 * side * side }, () => r.uniform(-1, 1));
      const dets = await tidyAsync(() =>
        det.predict(
          {
            images,
            batch: 2,
            height: side,
            width: side,
            sizes: [{ height: side, width: side }, { height: 60, width: 50 }],
          },
          classEncodingLoss(C, C + extra),
        )
      );
      assert.equal(dets.length, 2);
      for (const [b, d] of dets.entries()) {
        assert.ok(d.scores.length > 0 && d.scores.length <= 50, `image ${b}: ${d.scores.length} detections`);
        d.labels.forEach((c, k) => {
          assert.ok(c >= 0 && c < C);
          assert.equal(d.scores[k], Math.fround((c + 1) / (C + 2)), `image ${b}: class ${c} got another class's score`);
          const [x1, y1, x2, y2] = d.boxes.subarray(4 * k, 4 * k + 4);
          const lim = b === 0 ? [side, side] : [50, 60];
          assert.ok(
            x1 >= 0 && y1 >= 0 && x2 <= lim[0] && y2 <= lim[1] && x1 <= x2 && y1 <= y2,
            `box ${[x1, y1, x2, y2]}`,
          );
        });
        // Sorted by score within the kept set, highest class first.
        for (let k = 1; k < d.scores.length; k++) assert.ok(d.scores[k] <= d.scores[k - 1]);
      }
      det.params.dispose();
    },
  );
}
