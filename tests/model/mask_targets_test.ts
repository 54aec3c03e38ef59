import assert from "node:assert/strict";
import type { Rle } from "../../eval/rle.ts";
import { maskTargets } from "../../model/masks/mask_targets.ts";
import { assertClose, rng, SEED } from "../_util.ts";
import { MASK_FIXTURES, rleOf } from "./_mask_fixtures.ts";

Deno.test("maskTargets() equals torchvision 0.14's project_masks_on_boxes on its own random cases", () => {
  assert.ok(MASK_FIXTURES.targets.length >= 4);
  for (const [i, c] of MASK_FIXTURES.targets.entries()) {
    const masks = { height: c.height, width: c.width, rles: c.masks.map((r) => rleOf(c.height, c.width, r)) };
    const got = maskTargets({ masks, boxes: c.boxes, matched: c.matched, size: c.size });
    // The fixture holds each float32 as its shortest decimal.
    const want = Float32Array.from(c.targets);
    assert.equal(got.length, want.length);
    // The bound is 1e-5; the float32 arithmetic follows torchvision's CPU kernel step by step, so all agree.
    assertClose(got, want, { atol: 1e-5, rtol: 0 }, `case ${i}`);
    let exact = 0;
    got.forEach((v, k) => (exact += v === want[k] ? 1 : 0));
    assert.equal(exact, got.length, `case ${i}: bit-identical values`);
  }
});

/** Float64 RoIAlign of one RoI over dense pixels (aligned=False, adaptive grid), written from its definition. */
function referencePool(mask: Uint8Array, h: number, w: number, box: number[], m: number): Float64Array {
  const [x1, y1, x2, y2] = box;
  const rw = Math.max(x2 - x1, 1), rh = Math.max(y2 - y1, 1);
  const gw = Math.ceil(rw / m), gh = Math.ceil(rh / m);
  const at = (y: number, x: number) => mask[x * h + y];
  const out = new Float64Array(m * m);
  for (let py = 0; py < m; py++) {
    for (let px = 0; px < m; px++) {
      let sum = 0;
      for (let iy = 0; iy < gh; iy++) {
        for (let ix = 0; ix < gw; ix++) {
          let y = y1 + (py + (iy + 0.5) / gh) * rh / m, x = x1 + (px + (ix + 0.5) / gw) * rw / m;
          if (y < -1 || y > h || x < -1 || x > w) continue;
          y = Math.min(Math.max(y, 0), h - 1);
          x = Math.min(Math.max(x, 0), w - 1);
          const y0 = Math.floor(y), x0 = Math.floor(x), y1_ = Math.min(y0 + 1, h - 1), x1_ = Math.min(x0 + 1, w - 1);
          const ly = y - y0, lx = x - x0;
          sum += (1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x1_) + ly * (1 - lx) * at(y1_, x0) +
            ly * lx * at(y1_, x1_);
        }
      }
      out[py * m + px] = sum / Math.max(gw * gh, 1);
    }
  }
  return out;
}

Deno.test(`maskTargets() agrees with a float64 RoIAlign on random masks and RoIs (seed ${SEED})`, () => {
  const r = rng(81);
  for (let trial = 0; trial < 12; trial++) {
    const h = 20 + r.int(60), w = 20 + r.int(60), g = 1 + r.int(4), m = [7, 14, 28][r.int(3)];
    const dense = Array.from({ length: g }, () => new Uint8Array(h * w).map(() => (r.float() < 0.4 ? 1 : 0)));
    const rles: Rle[] = dense.map((d) => {
      const counts: number[] = [];
      let v = 0, run = 0;
      for (const b of d) {
        if (b !== v) (counts.push(run), v = b, run = 0);
        run++;
      }
      counts.push(run);
      return { h, w, counts: Uint32Array.from(counts) };
    });
    const n = 1 + r.int(8);
    const boxes: number[] = [], matched: number[] = [];
    for (let i = 0; i < n; i++) {
      const x1 = r.uniform(-5, w), y1 = r.uniform(-5, h);
      boxes.push(x1, y1, x1 + r.uniform(0.3, w), y1 + r.uniform(0.3, h));
      matched.push(r.int(g));
    }
    const got = maskTargets({ masks: { height: h, width: w, rles }, boxes, matched, size: m });
    for (let i = 0; i < n; i++) {
      const want = referencePool(dense[matched[i]], h, w, boxes.slice(4 * i, 4 * i + 4).map(Math.fround), m);
      // float32 sample positions and sums against float64: a few ulps of the [0, 1] values.
      assertClose(got.subarray(i * m * m, (i + 1) * m * m), want, { atol: 2e-5, rtol: 0 }, `trial ${trial} roi ${i}`);
    }
  }
});

Deno.test("maskTargets() names a RoI matched to a ground truth that has no mask", () => {
  const masks = { height: 4, width: 4, rles: [{ h: 4, w: 4, counts: Uint32Array.of(16) }] };
  assert.throws(() => maskTargets({ masks, boxes: [0, 0, 2, 2], matched: [1], size: 2 }), /ground truth 1/);
  assert.throws(() => maskTargets({ masks, boxes: [0, 0, 2], matched: [0], size: 2 }), /boxes for 1 matches/);
});
