import assert from "node:assert/strict";
import { decodeRle, polygonToRle, type Rle, rleArea, rleIou, rleToBbox, unionRle } from "../../eval/mod.ts";
import { rng } from "./_util.ts";

/** Column-major pixels of a mask. */
function pixels(m: Rle): Uint8Array {
  const out = new Uint8Array(m.h * m.w);
  let p = 0;
  m.counts.forEach((c, j) => {
    out.fill(j % 2, p, p + c);
    p += c;
  });
  assert.equal(p, m.h * m.w, "runs cover the image");
  return out;
}

function randomPolygon(r: ReturnType<typeof rng>, h: number, w: number): number[] {
  const cx = r.uniform(0, w), cy = r.uniform(0, h), k = 3 + r.int(6), out: number[] = [];
  for (let i = 0; i < k; i++) {
    const a = (2 * Math.PI * i) / k + r.uniform(0, 0.5), rad = r.uniform(1, Math.min(h, w) / 2);
    out.push(cx + rad * Math.cos(a), cy + rad * Math.sin(a));
  }
  return out;
}

Deno.test("rle union, area, box and IoU agree with the same operations on pixels", () => {
  const r = rng(31);
  for (let trial = 0; trial < 30; trial++) {
    const h = 5 + r.int(40), w = 5 + r.int(40);
    const a = unionRle([polygonToRle(randomPolygon(r, h, w), h, w), polygonToRle(randomPolygon(r, h, w), h, w)]);
    const b = polygonToRle(randomPolygon(r, h, w), h, w);
    const pa = pixels(a), pb = pixels(b);
    assert.equal(rleArea(a), pa.reduce((s, v) => s + v, 0));
    let inter = 0, union = 0, x0 = w, y0 = h, x1 = -1, y1 = -1;
    pa.forEach((v, i) => {
      inter += v & pb[i];
      union += v | pb[i];
      if (v) {
        const x = Math.floor(i / h), y = i % h;
        (x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y));
      }
    });
    if (x1 >= 0) assert.deepEqual(rleToBbox(a), [x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
    const iou = rleIou(a, rleToBbox(a), b, rleToBbox(b));
    assert.equal(iou, inter === 0 ? 0 : inter / union);
  }
});

Deno.test("decodeRle() reads COCO's compressed counts, deltas from the fourth run on", () => {
  // Runs [3, 2, 5, 4]: "3", "2", "5", then 4 - 2 = 2.
  assert.deepEqual(Array.from(decodeRle({ size: [7, 2], counts: "3252" }).counts), [3, 2, 5, 4]);
  // A negative delta: runs [1, 6, 1, 2] store 2 - 6 = -4 as 0x3c - 0x40 -> char 48 + 0x1c.
  assert.deepEqual(Array.from(decodeRle({ size: [5, 2], counts: `161${String.fromCharCode(48 + 0x1c)}` }).counts), [
    1,
    6,
    1,
    2,
  ]);
  // An axis-aligned 10 x 10 square rasterises to exactly 100 pixels.
  assert.equal(rleArea(polygonToRle([0, 0, 0, 10, 10, 10, 10, 0], 20, 20)), 100);
});
