import assert from "node:assert/strict";
import { assertClose, randomArray, rng } from "../_util.ts";
import type { Rng } from "../../core/rng.ts";
import { clipBoxes, decodeBoxes, encodeBoxes, nonEmptyBoxes, pairwiseIou, SCALE_CLAMP } from "../../model/boxes.ts";

function randomBoxes(r: Rng, n: number, span = 100): Float64Array {
  const b = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = r.uniform(-10, span), y = r.uniform(-10, span);
    b.set([x, y, x + r.uniform(2, span / 2), y + r.uniform(2, span / 2)], 4 * i);
  }
  return b;
}

Deno.test("pairwiseIou() matches the area definition, is symmetric and 1 on the diagonal", () => {
  const r = rng(31);
  const a = randomBoxes(r, 17), b = randomBoxes(r, 9);
  const iou = pairwiseIou(a, b), back = pairwiseIou(b, a), self = pairwiseIou(a, a);
  for (let i = 0; i < 17; i++) {
    assertClose([self[i * 17 + i]], [1], { atol: 1e-6 }, "self IoU");
    for (let j = 0; j < 9; j++) {
      // Intersection by brute force over the overlap interval, in float64.
      const iw = Math.max(0, Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]));
      const ih = Math.max(0, Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]));
      const area = (x: Float64Array, k: number) => (x[4 * k + 2] - x[4 * k]) * (x[4 * k + 3] - x[4 * k + 1]);
      const want = iw * ih / (area(a, i) + area(b, j) - iw * ih);
      assertClose([iou[i * 9 + j], back[j * 17 + i]], [want, want], { rtol: 1e-6, atol: 1e-7 }, `IoU(${i}, ${j})`);
    }
  }
  assert.equal(pairwiseIou([0, 0, 2, 2], [2, 0, 4, 2])[0], 0, "touching boxes do not overlap");
});

Deno.test("decodeBoxes() inverts encodeBoxes() for every weight set (size ratios below the clamp)", () => {
  const r = rng(32);
  for (const weights of [[1, 1, 1, 1], [10, 10, 5, 5], [2.5, 7, 1.5, 3]] as const) {
    const from = randomBoxes(r, 23), to = randomBoxes(r, 23);
    const deltas = encodeBoxes(from, to, weights);
    // f32 deltas, then exp and products: relative error ~1e-6 of the box extent.
    assertClose(decodeBoxes(deltas, from, { weights }), to, { rtol: 1e-5, atol: 1e-4 }, `round trip ${weights}`);
  }
});

Deno.test("encodeBoxes() gives the R-CNN deltas and decodeBoxes() clamps growth at log(1000/16)", () => {
  const d = encodeBoxes([10, 20, 30, 60], [15, 10, 55, 90], [10, 10, 5, 5]);
  // centres (20, 40) -> (35, 50), sizes (20, 40) -> (40, 80)
  assertClose(d, [10 * 15 / 20, 10 * 10 / 40, 5 * Math.log(2), 5 * Math.log(2)], { rtol: 1e-6 }, "deltas");
  const big = decodeBoxes([0, 0, 20, 3 * SCALE_CLAMP], [0, 0, 2, 4], { weights: [1, 1, 2, 3] });
  assertClose(big, [1 - 1000 / 16, 2 - 4 * 1000 / 32, 1 + 1000 / 16, 2 + 4 * 1000 / 32], { rtol: 1e-5 }, "clamped");
});

Deno.test("decodeBoxes() decodes every class block against its box and clips to the image", () => {
  const r = rng(33);
  const boxes = randomBoxes(r, 5), deltas = randomArray(r, 5 * 3 * 4);
  const all = decodeBoxes(deltas, boxes, { weights: [10, 10, 5, 5], clip: { height: 50, width: 70 } });
  for (let i = 0; i < 5; i++) {
    for (let k = 0; k < 3; k++) {
      const one = decodeBoxes(deltas.slice(12 * i + 4 * k, 12 * i + 4 * k + 4), boxes.slice(4 * i, 4 * i + 4), {
        weights: [10, 10, 5, 5],
      });
      clipBoxes(one, { height: 50, width: 70 });
      assert.deepEqual([...all.slice(12 * i + 4 * k, 12 * i + 4 * k + 4)], [...one], `box ${i} class ${k}`);
    }
  }
  for (let i = 0; i < all.length; i += 2) assert.ok(all[i] >= 0 && all[i] <= 70 && all[i + 1] >= 0 && all[i + 1] <= 50);
  assert.deepEqual(nonEmptyBoxes([0, 0, 5, 5, 3, 3, 3, 9, 0, 0, 1.5, 1.5], 1), [0, 2]);
});
