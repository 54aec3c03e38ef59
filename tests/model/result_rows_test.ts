import assert from "node:assert/strict";
import { assertClose, rng } from "../_util.ts";
import { resultRows } from "../../model/result_rows.ts";
import { pasteMasks } from "../../model/masks/paste_masks.ts";
import { maskToSegmentation } from "../../eval/rle_encode.ts";
import { decodeRle, rleArea, rleToBbox } from "../../eval/rle.ts";

Deno.test("resultRows() scales boxes back to the original image as xywh, maps category ids, rounds as written", () => {
  const r = rng(61);
  const categoryIds = [3, 17, 1, 99, 42];
  for (
    const size of [
      { width: 640, height: 480, outWidth: 171, outHeight: 128 },
      { width: 100, height: 300, outWidth: 128, outHeight: 384 },
    ]
  ) {
    const n = 5 + r.int(20);
    const boxes = new Float32Array(4 * n), scores = new Float32Array(n), labels = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const x1 = r.uniform(0, size.outWidth - 2), y1 = r.uniform(0, size.outHeight - 2);
      boxes.set([x1, y1, r.uniform(x1 + 1, size.outWidth), r.uniform(y1 + 1, size.outHeight)], 4 * k);
      scores[k] = r.uniform(1e-4, 1);
      labels[k] = r.int(categoryIds.length);
    }
    const rows = resultRows({ boxes, scores, labels }, { imageId: 7, size, categoryIds });
    assert.equal(rows.length, n);
    const sx = size.width / size.outWidth, sy = size.height / size.outHeight;
    rows.forEach((row, k) => {
      const [x1, y1, x2, y2] = boxes.subarray(4 * k, 4 * k + 4);
      assert.equal(row.image_id, 7);
      assert.equal(row.category_id, categoryIds[labels[k]]);
      // Rounded to 0.01 px (the corners first, so width and height err by up to 0.01).
      assertClose(row.bbox, [x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy], { rtol: 0, atol: 0.0101 }, "bbox");
      for (const v of row.bbox) assert.equal(Math.round(v * 100) / 100, v, `bbox ${row.bbox} has more than 2 decimals`);
      assertClose([row.score], [scores[k]], { rtol: 0, atol: 5e-7 }, "score");
      assert.equal(Math.round(row.score * 1e6) / 1e6, row.score);
    });
  }
  const none = { boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) };
  const size = { width: 1, height: 1, outWidth: 1, outHeight: 1 };
  assert.deepEqual(resultRows(none, { imageId: 1, size, categoryIds }), []);
});

Deno.test("resultRows() pastes each mask into the original image at its scaled box, inside the box", () => {
  const r = rng(62), M = 14;
  const size = { width: 97, height: 61, outWidth: 128, outHeight: 80 };
  const n = 6 + r.int(6);
  const boxes = new Float32Array(4 * n), scores = new Float32Array(n), labels = new Int32Array(n);
  const masks = new Float32Array(n * M * M);
  for (let k = 0; k < n; k++) {
    const x1 = r.uniform(-3, size.outWidth - 8), y1 = r.uniform(-3, size.outHeight - 8);
    boxes.set([x1, y1, r.uniform(x1 + 4, size.outWidth + 3), r.uniform(y1 + 4, size.outHeight + 3)], 4 * k);
    scores[k] = r.uniform(0.01, 1);
    labels[k] = r.int(3);
    for (let i = 0; i < M * M; i++) masks[k * M * M + i] = r.uniform(0, 1);
  }
  const rows = resultRows({ boxes, scores, labels, masks, maskSize: M }, {
    imageId: 3,
    size,
    categoryIds: [5, 6, 7],
    maskThreshold: 0.4,
  });
  const f = Math.fround, rx = f(f(97) / f(128)), ry = f(f(61) / f(80));
  const paste = (probs: Float32Array, k: number) => {
    const box = Array.from(boxes.subarray(4 * k, 4 * k + 4), (v, j) => f(v * (j % 2 ? ry : rx)));
    return maskToSegmentation(pasteMasks(probs, box, { imageHeight: 61, imageWidth: 97, threshold: 0.4 })[0]);
  };
  let poisonedDiffers = 0;
  rows.forEach((row, k) => {
    const own = masks.slice(k * M * M, (k + 1) * M * M);
    assert.deepEqual(row.segmentation, paste(own, k), `detection ${k}`);
    poisonedDiffers += paste(own.map((v) => 1 - v), k).counts !== row.segmentation!.counts ? 1 : 0;
    const rle = decodeRle(row.segmentation!);
    assert.deepEqual([rle.h, rle.w], [61, 97]);
    if (rleArea(rle) === 0) return;
    // The paste widens the box by one map pixel each side, then truncates to whole pixels.
    const [x, y, w, h] = row.bbox, [mx, my, mw, mh] = rleToBbox(rle), px = w / M + 1, py = h / M + 1;
    assert.ok(mx >= x - px && my >= y - py && mx + mw <= x + w + px && my + mh <= y + h + py, `mask ${k} outside box`);
  });
  assert.equal(poisonedDiffers, n, "a poisoned probability map gave the same mask");
  // Without masks the rows carry none.
  assert.ok(
    resultRows({ boxes, scores, labels }, { imageId: 3, size, categoryIds: [5, 6, 7] }).every((x) => !x.segmentation),
  );
});
