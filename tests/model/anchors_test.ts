import assert from "node:assert/strict";
import { assertClose, rng } from "../_util.ts";
import { Rng } from "../../core/rng.ts";
import { gridAnchors, rpnTargets } from "../../model/anchors.ts";
import { decodeBoxes, pairwiseIou } from "../../model/boxes.ts";

Deno.test("gridAnchors() lays out (y, x, size, ratio) with the requested areas, ratios and centres", () => {
  const r = rng(41);
  const level = {
    sizes: [r.uniform(8, 20), r.uniform(30, 60)],
    aspectRatios: [0.5, 1, 2.5],
    stride: 8,
    height: 3,
    width: 5,
  };
  for (const offset of [0, 0.5]) {
    const a = gridAnchors({ ...level, offset });
    assert.equal(a.length, 3 * 5 * 6 * 4);
    for (let i = 0; i < a.length / 4; i++) {
      const k = i % 6, loc = (i - k) / 6, x = loc % 5, y = (loc - x) / 5;
      const size = level.sizes[Math.floor(k / 3)], ratio = level.aspectRatios[k % 3];
      const w = a[4 * i + 2] - a[4 * i], h = a[4 * i + 3] - a[4 * i + 1];
      const got = [w * h, h / w, (a[4 * i] + a[4 * i + 2]) / 2, (a[4 * i + 1] + a[4 * i + 3]) / 2];
      const want = [size * size, ratio, (x + offset) * 8, (y + offset) * 8];
      assertClose(got, want, { rtol: 1e-5, atol: 1e-5 }, `anchor ${i}`);
    }
  }
});

function randomGt(r: Rng, n: number, img: number): Float32Array {
  const g = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const w = r.uniform(6, img / 2), h = r.uniform(6, img / 2), x = r.uniform(0, img - w), y = r.uniform(0, img - h);
    g.set([x, y, x + w, y + h], 4 * i);
  }
  return g;
}

Deno.test("rpnTargets() samples positives at IoU >= 0.7 or best-for-a-box, negatives below 0.3, at most 128 + 128", () => {
  const r = rng(42);
  const anchors = gridAnchors({ sizes: [16, 32, 64], aspectRatios: [0.5, 1, 2], stride: 8, height: 16, width: 16 });
  const nA = anchors.length / 4;
  for (const nGt of [1, 4, 9]) {
    const gt = randomGt(r, nGt, 128);
    const seed = r.int(1e9);
    const t = rpnTargets({ anchors, gtBoxes: gt, rng: new Rng(seed) });
    const iou = pairwiseIou(gt, anchors);
    const best = (i: number) => Math.max(...Array.from({ length: nGt }, (_, g) => iou[g * nA + i]));
    const gtMax = Array.from({ length: nGt }, (_, g) => Math.max(...iou.subarray(g * nA, (g + 1) * nA)));
    const isGtBest = (i: number) => gtMax.some((m, g) => m > 0 && iou[g * nA + i] === m);
    let pos = 0, neg = 0, posCandidates = 0, negCandidates = 0;
    for (let i = 0; i < nA; i++) {
      const candidate = best(i) >= Math.fround(0.7) || isGtBest(i);
      posCandidates += candidate ? 1 : 0;
      negCandidates += !candidate && best(i) < Math.fround(0.3) ? 1 : 0;
      if (t.labels[i] === 1) {
        pos++;
        assert.ok(candidate, `anchor ${i} positive at IoU ${best(i)}`);
        // Its target decodes to its best ground truth.
        const g = Array.from({ length: nGt }, (_, k) => k).find((k) => iou[k * nA + i] === best(i))!;
        const box = decodeBoxes(t.deltas.subarray(4 * i, 4 * i + 4), anchors.subarray(4 * i, 4 * i + 4));
        assertClose(box, gt.subarray(4 * g, 4 * g + 4), { rtol: 1e-5, atol: 1e-3 }, `target of anchor ${i}`);
      } else {
        assert.deepEqual([...t.deltas.subarray(4 * i, 4 * i + 4)], [0, 0, 0, 0]);
        if (t.labels[i] === 0) {
          neg++;
          assert.ok(!candidate && best(i) < 0.3, `anchor ${i} negative at IoU ${best(i)}`);
        }
      }
    }
    assert.equal(pos, Math.min(posCandidates, 128));
    assert.equal(neg, Math.min(negCandidates, 256 - pos));
    assert.deepEqual([pos, neg], [t.numPositive, t.numNegative]);
    assert.deepEqual(
      rpnTargets({ anchors, gtBoxes: gt, rng: new Rng(seed) }).labels,
      t.labels,
      "same seed, same sample",
    );
  }
  const empty = rpnTargets({ anchors, gtBoxes: [], rng: new Rng(1) });
  assert.deepEqual([empty.numPositive, empty.numNegative], [0, 256]);
});
