import assert from "node:assert/strict";
import { encodeMask } from "../../eval/rle_encode.ts";
import { pasteMasks } from "../../model/masks/paste_masks.ts";
import { rng, SEED } from "../_util.ts";
import { MASK_FIXTURES } from "./_mask_fixtures.ts";

Deno.test("pasteMasks() gives torchvision 0.14's paste_masks_in_image bit for bit, at three thresholds", () => {
  assert.ok(MASK_FIXTURES.paste.length >= 4);
  for (const [i, c] of MASK_FIXTURES.paste.entries()) {
    for (const [threshold, want] of Object.entries(c.masks)) {
      const pasted = pasteMasks(Float32Array.from(c.probs), c.boxes, {
        imageHeight: c.height,
        imageWidth: c.width,
        threshold: Number(threshold),
      });
      assert.equal(pasted.length, want.length);
      pasted.forEach((p, k) => {
        assert.deepEqual(Array.from(encodeMask(p).counts), want[k], `case ${i} mask ${k} threshold ${threshold}`);
      });
    }
  }
});

Deno.test(`pasteMasks() touches only the expanded box inside the image (seed ${SEED})`, () => {
  const r = rng(91);
  for (let trial = 0; trial < 50; trial++) {
    const ih = 10 + r.int(200), iw = 10 + r.int(200), m = 4 + r.int(28), n = 1 + r.int(5);
    const boxes: number[] = [];
    for (let i = 0; i < n; i++) {
      const x1 = r.uniform(-30, iw), y1 = r.uniform(-30, ih);
      boxes.push(x1, y1, x1 + r.uniform(0, iw), y1 + r.uniform(0, ih));
    }
    // Every probability above the threshold: the pasted mask is the whole expanded box, minus the padding's fade.
    const pasted = pasteMasks(new Float32Array(n * m * m).fill(1), boxes, { imageHeight: ih, imageWidth: iw });
    pasted.forEach((p, i) => {
      const [x1, y1, x2, y2] = boxes.slice(4 * i, 4 * i + 4);
      const grow = (m + 2) / m;
      const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2, hw = (x2 - x1) / 2 * grow;
      assert.ok(p.x >= 0 && p.y >= 0 && p.x + p.cropWidth <= iw && p.y + p.cropHeight <= ih);
      // The crop is the expanded box clipped to the image (to a pixel of rounding).
      assert.ok(Math.abs(p.x - Math.max(0, Math.trunc(cx - hw))) <= 1, `trial ${trial} x`);
      if (p.cropWidth > 0) assert.ok(Math.abs(p.x + p.cropWidth - Math.min(iw, Math.trunc(cx + hw) + 1)) <= 1);
      // Probability 1 inside, 0 in the padding: the centre pixel of a box inside the image is set.
      const col = Math.floor(cx) - p.x, row = Math.floor(cy) - p.y;
      if (x2 - x1 > 4 && y2 - y1 > 4 && col >= 0 && col < p.cropWidth && row >= 0 && row < p.cropHeight) {
        assert.equal(p.bits[col * p.cropHeight + row], 1, `trial ${trial} centre`);
      }
    });
  }
});

Deno.test("pasteMasks() refuses probabilities that are not one square mask per box", () => {
  assert.throws(() => pasteMasks(new Float32Array(10), [0, 0, 1, 1], { imageHeight: 4, imageWidth: 4 }), /square/);
  assert.throws(() => pasteMasks(new Float32Array(4), [0, 0, 1], { imageHeight: 4, imageWidth: 4 }), /4 numbers/);
  assert.deepEqual(pasteMasks(new Float32Array(0), [], { imageHeight: 4, imageWidth: 4 }), []);
});
