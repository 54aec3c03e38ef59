import assert from "node:assert/strict";
import { assertClose, rng } from "../_util.ts";
import { resultRows } from "../../model/result_rows.ts";

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
