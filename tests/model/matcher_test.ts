import assert from "node:assert/strict";
import { matchBoxes } from "../../model/matcher.ts";

Deno.test("matchBoxes() labels by IoU band, lower bounds inclusive, and keeps each ground truth's best (ties too)", () => {
  // 2 ground truths x 5 predictions.
  const iou = new Float32Array([
    0.7,
    0.69,
    0.2,
    0.29,
    0.0,
    0.1,
    0.3,
    0.0,
    0.29,
    0.0,
  ]);
  const plain = matchBoxes(iou, 2, 5, { thresholds: [0.3, 0.7], labels: [0, -1, 1] });
  assert.deepEqual([...plain.labels], [1, -1, 0, 0, 0]);
  assert.deepEqual([...plain.matched], [0, 0, 0, 0, 0], "ties go to the first ground truth");
  const low = matchBoxes(iou, 2, 5, { thresholds: [0.3, 0.7], labels: [0, -1, 1], allowLowQuality: true });
  // gt 1's best is 0.3 at prediction 1; gt 0's best is prediction 0 already.
  assert.deepEqual([...low.labels], [1, 1, 0, 0, 0]);
  const tie = matchBoxes(new Float32Array([0.2, 0.2, 0.1]), 1, 3, {
    thresholds: [0.3, 0.7],
    labels: [0, -1, 1],
    allowLowQuality: true,
  });
  assert.deepEqual([...tie.labels], [1, 1, 0]);
  const none = matchBoxes(new Float32Array(0), 0, 3, { thresholds: [0.5], labels: [0, 1] });
  assert.deepEqual([...none.labels], [0, 0, 0]);
  const zero = matchBoxes(new Float32Array([0, 0]), 1, 2, { thresholds: [0.5], labels: [0, 1], allowLowQuality: true });
  assert.deepEqual([...zero.labels], [0, 0], "a ground truth overlapping nothing claims nothing");
});
