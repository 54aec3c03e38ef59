import assert from "node:assert/strict";
import { assertNear, torchvisionFixture } from "./_torchvision_fixture.ts";
import { fixtureImagePixels } from "./_torchvision_weights.ts";
import { boxesToOriginal, resizeBilinear, resizedSize, transformImages } from "../../model/transform.ts";

Deno.test("transformImages() normalises, resizes and pads two images as torchvision's transform did", () => {
  const { meta, get } = torchvisionFixture();
  const t = meta.transform;
  const images = t.inputs.map(([h, w], b) => ({
    data: fixtureImagePixels(`image${100 + b}`, h, w).map((p) => Math.fround(p / 255)),
    height: h,
    width: w,
  }));
  const batch = transformImages(images, { minSize: t.min_size, maxSize: t.max_size, sizeDivisor: 32 });
  assert.deepEqual(batch.sizes.map((s) => [s.height, s.width]), t.image_sizes);
  const want = get("transform.images");
  assert.deepEqual([batch.batch, 3, batch.height, batch.width], want.shape);
  // torch's kernel forms the bilinear weights and sums in its own float32 order (values differ by
  // ~1e-6 of the pixel range in a float64 check); the sizes and the padding must agree exactly.
  assertNear(batch.images, want.data, 1e-5, "transformed batch");
});

Deno.test("resizeBilinear() interpolates between pixel centres and copies at equal sizes", () => {
  assert.deepEqual(Array.from(resizeBilinear(Float32Array.of(0, 1), 1, 1, 2, 1, 4)), [0, 0.25, 0.75, 1]);
  const x = Float32Array.from({ length: 12 }, (_, i) => i * 0.5);
  assert.deepEqual(Array.from(resizeBilinear(x, 2, 2, 3, 2, 3)), Array.from(x));
  // Downsampling by 2 averages each 2x2 block's centre: sources at 0.5, 2.5.
  const big = Float32Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual(Array.from(resizeBilinear(big, 1, 4, 4, 2, 2)), [2.5, 4.5, 10.5, 12.5]);
});

Deno.test("resizedSize() and boxesToOriginal() follow torchvision's float32 scale and ratios", () => {
  // torch divides a number by a tensor as a float32 reciprocal times the number: 800 * f32(1 / 480)
  // rounds above 5/3, so 480 px become 800 (a correctly rounded 800 / 480 gives 799).
  assert.deepEqual(resizedSize(480, 640, 800, 1333), [800, 1066]);
  assert.deepEqual(resizedSize(300, 1500, 800, 1333), [266, 1332]); // torch: floor(1500 * f32(1333 / 1500))
  const b = boxesToOriginal(Float32Array.of(10, 20, 400, 600), { height: 800, width: 1066 }, {
    height: 480,
    width: 640,
  });
  const rw = Math.fround(640 / 1066), rh = Math.fround(480 / 800);
  assert.deepEqual(Array.from(b), [10 * rw, 20 * rh, 400 * rw, 600 * rh].map(Math.fround));
});
