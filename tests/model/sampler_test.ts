import assert from "node:assert/strict";
import { assertClose, rng } from "../_util.ts";
import { Rng } from "../../core/rng.ts";
import { sampleRois, subsample } from "../../model/sampler.ts";
import { decodeBoxes, pairwiseIou } from "../../model/boxes.ts";

Deno.test("sampleRois() keeps 512 with at most 25% foreground, each labelled by its best ground truth", () => {
  const r = rng(51);
  for (const [nGt, nProp] of [[5, 2000], [2, 150], [0, 700]]) {
    const gt = new Float32Array(4 * nGt), classes = Array.from({ length: nGt }, () => r.int(7));
    for (let g = 0; g < nGt; g++) {
      const x = r.uniform(0, 100), y = r.uniform(0, 100);
      gt.set([x, y, x + r.uniform(10, 60), y + r.uniform(10, 60)], 4 * g);
    }
    // Proposals: jittered ground truths (many foreground) and random boxes.
    const props = new Float32Array(4 * nProp);
    for (let i = 0; i < nProp; i++) {
      if (nGt > 0 && i % 2 === 0) {
        const g = r.int(nGt), s = r.uniform(0.02, 0.3);
        for (let c = 0; c < 4; c++) props[4 * i + c] = gt[4 * g + c] + r.normal() * s * 30;
        [props[4 * i], props[4 * i + 2]] = [Math.min(props[4 * i], props[4 * i + 2] - 1), props[4 * i + 2]];
        [props[4 * i + 1], props[4 * i + 3]] = [Math.min(props[4 * i + 1], props[4 * i + 3] - 1), props[4 * i + 3]];
      } else {
        const x = r.uniform(0, 150), y = r.uniform(0, 150);
        props.set([x, y, x + r.uniform(2, 80), y + r.uniform(2, 80)], 4 * i);
      }
    }
    const seed = r.int(1e9);
    const s = sampleRois({ proposals: props, gtBoxes: gt, gtClasses: classes, numClasses: 7, rng: new Rng(seed) });
    const all = new Float32Array([...props, ...gt]);
    const n = all.length / 4;
    const iou = pairwiseIou(gt, all);
    const fgCandidates = Array.from({ length: n }, (_, i) =>
      i).filter((i) =>
        Array.from({ length: nGt }, (_, g) => iou[g * n + i]).some((v) => v >= 0.5)
      ).length;
    assert.equal(s.labels.length, Math.min(512, n));
    assert.equal(s.numForeground, Math.min(fgCandidates, 128));
    const rows = new Set<string>();
    for (let k = 0; k < s.labels.length; k++) {
      const box = s.boxes.subarray(4 * k, 4 * k + 4);
      rows.add(box.join());
      const ious = pairwiseIou(gt, box);
      const best = nGt ? Math.max(...ious) : 0;
      if (k < s.numForeground) {
        const g = s.matchedGt[k];
        assert.ok(ious[g] === best && best >= 0.5, `RoI ${k} matched at IoU ${ious[g]}, best ${best}`);
        assert.equal(s.labels[k], classes[g]);
        const back = decodeBoxes(s.deltas.subarray(4 * k, 4 * k + 4), box, { weights: [10, 10, 5, 5] });
        assertClose(back, gt.subarray(4 * g, 4 * g + 4), { rtol: 1e-5, atol: 1e-3 }, `target of RoI ${k}`);
      } else {
        assert.ok(best < 0.5 && s.labels[k] === 7 && s.matchedGt[k] === -1, `background RoI ${k} at IoU ${best}`);
        assert.deepEqual([...s.deltas.subarray(4 * k, 4 * k + 4)], [0, 0, 0, 0]);
      }
    }
    assert.equal(rows.size, s.labels.length, "no RoI sampled twice");
    const again = sampleRois({ proposals: props, gtBoxes: gt, gtClasses: classes, numClasses: 7, rng: new Rng(seed) });
    assert.deepEqual(again.boxes, s.boxes, "same seed, same sample");
  }
});

Deno.test("subsample() draws every item with equal chance", () => {
  const r = new Rng(rng(52).int(1e9));
  const hits = new Array(10).fill(0);
  for (let t = 0; t < 4000; t++) {
    const [pos] = subsample(10, () => true, () => false, { batchSize: 6, positiveFraction: 0.5, rng: r });
    assert.equal(pos.length, 3);
    for (const i of pos) hits[i]++;
  }
  // Each item is drawn with p = 0.3: 1200 expected, sd ~29; 6 sd of slack.
  for (const h of hits) assert.ok(Math.abs(h - 1200) < 175, `draw counts ${hits}`);
});
