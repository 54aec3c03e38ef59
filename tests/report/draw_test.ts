import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { encodeMask } from "../../eval/rle_encode.ts";
import { CATEGORY_COLORS, drawDetections } from "../../report/draw_detections.ts";
import { overlaps, placeLabels } from "../../report/label_layout.ts";
import { rng, SEED } from "../_util.ts";

Deno.test(`placeLabels() never lets two labels overlap, keeps them on the canvas and next to their box (seed ${SEED})`, () => {
  const r = rng(11);
  for (let trial = 0; trial < 40; trial++) {
    const canvas = { w: 200 + r.int(600), h: 150 + r.int(500) };
    const n = 1 + r.int(40);
    const boxes = Array.from({ length: n }, () => {
      const w = 5 + r.int(canvas.w / 2), h = 5 + r.int(canvas.h / 2);
      return { x: r.int(canvas.w - w), y: r.int(canvas.h - h), w, h };
    });
    const sizes = boxes.map(() => ({ w: 20 + r.int(90), h: 12 + r.int(6) }));
    const spots = placeLabels(boxes, sizes, canvas);
    const placed = spots.flatMap((s, i) => (s ? [{ ...s, ...sizes[i], i }] : []));
    assert.ok(spots[0] !== null, "the first label always finds a spot");
    for (const [k, a] of placed.entries()) {
      assert.ok(a.x >= 0 && a.y >= 0 && a.x + a.w <= canvas.w && a.y + a.h <= canvas.h, `trial ${trial}: off canvas`);
      const b = boxes[a.i];
      // Next to its box: within a label's size of it on every side.
      const near = { x: b.x - a.w, y: b.y - a.h, w: b.w + 2 * a.w, h: b.h + 2 * a.h };
      assert.ok(overlaps(near, a), `trial ${trial}: label ${a.i} strayed from its box`);
      for (const c of placed.slice(k + 1)) {
        assert.ok(!overlaps(a, c), `trial ${trial}: labels ${a.i} and ${c.i} overlap`);
      }
    }
  }
});

async function blueImage(dir: string, w: number, h: number): Promise<string> {
  const src = join(dir, "in.png");
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toFile(src);
  return src;
}

async function pixels(path: string) {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    info,
    at: (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)),
  };
}

Deno.test("drawDetections() outlines a result's mask in its category's colour and fills it lightly", async () => {
  const dir = await Deno.makeTempDir();
  const [w, h] = [400, 300];
  const bits = new Uint8Array(100 * 100).fill(1);
  const mask = encodeMask({ height: h, width: w, x: 50, y: 60, cropWidth: 100, cropHeight: 100, bits });
  const drawn = await drawDetections(
    await blueImage(dir, w, h),
    [
      { bbox: [20, 30, 200, 180], label: "", kind: "truth", category: "dog" },
      { bbox: [40, 50, 130, 130], label: "cat 0.90", kind: "result", category: "cat", mask },
    ],
    join(dir, "out.png"),
  );
  // Truth categories take the first colours.
  assert.deepEqual(drawn.legend, [["dog", CATEGORY_COLORS[0]], ["cat", CATEGORY_COLORS[1]]]);
  const cat = [0x3c, 0xb4, 0x4b];
  const { at } = await pixels(join(dir, "out.png"));
  assert.deepEqual(at(50, 110), cat, "left edge of the mask");
  assert.deepEqual(at(149, 110), cat, "right edge of the mask");
  const inside = at(100, 110);
  assert.ok(inside[1] > 30 && inside[1] < 90 && inside[2] > 150, `inside tinted, not covered: ${inside}`);
  assert.deepEqual(at(300, 250), [0, 0, 255], "outside untouched");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("drawDetections() puts a legend of the drawn categories below the image", async () => {
  const dir = await Deno.makeTempDir();
  const [w, h] = [360, 200];
  const names = ["zebra", "apple", "kite"];
  const boxes = names.map((category, i) => ({
    bbox: [20 + 100 * i, 40, 80, 80],
    label: `${category} 0.5`,
    kind: "result" as const,
    category,
  }));
  const drawn = await drawDetections(await blueImage(dir, w, h), boxes, join(dir, "out.png"));
  assert.deepEqual(drawn.legend.map(([n]) => n), names);
  assert.equal(drawn.labelsLeftOut, 0);
  const { info, at } = await pixels(join(dir, "out.png"));
  assert.equal(info.height, drawn.height);
  // Each category's swatch colour appears in the legend strip.
  for (const [name, hex] of drawn.legend) {
    const rgb = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
    let found = false;
    for (let y = drawn.imageHeight; y < info.height && !found; y++) {
      for (let x = 0; x < info.width && !found; x++) found = at(x, y).every((v, c) => v === rgb[c]);
    }
    assert.ok(found, `no swatch for ${name}`);
  }
  await Deno.remove(dir, { recursive: true });
});
