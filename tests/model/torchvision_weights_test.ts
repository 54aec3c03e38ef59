import assert from "node:assert/strict";
import { torchvisionFixture } from "./_torchvision_fixture.ts";
import { fixtureImagePixels, fixtureWeight, torchvisionNormalize } from "./_torchvision_weights.ts";

Deno.test("fixtureWeight() regenerates the recorded values of every torchvision state-dict entry exactly", () => {
  const { meta } = torchvisionFixture();
  assert.equal(meta.state_dict.length, Object.keys(meta.weights).length);
  for (const [name, shape] of meta.state_dict) {
    const w = fixtureWeight(name, shape);
    const rec = meta.weights[name];
    rec.index.forEach((i, k) => assert.equal(w[i], rec.value[k], `${name}[${i}]`));
  }
});

Deno.test("fixtureImagePixels() and torchvisionNormalize() give the generator's input batch", () => {
  const { meta, get } = torchvisionFixture();
  const [H, W] = [128, 192];
  const s = meta.summaries["images"];
  assert.deepEqual(s.shape, [2, 3, H, W]);
  const batch = new Float32Array(2 * 3 * H * W);
  meta.sizes.forEach(([h, w], b) => {
    const px = fixtureImagePixels(`image${b}`, h, w);
    assert.deepEqual(Array.from(px.subarray(0, 4)), meta.image_samples[`${b}`]);
    const x = torchvisionNormalize(px, h, w);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        batch.set(x.subarray((c * h + y) * w, (c * h + y + 1) * w), ((b * 3 + c) * H + y) * W);
      }
    }
  });
  const want = get("images.strided").data;
  want.forEach((v, k) => assert.equal(batch[k * s.stride], v, `images[${k * s.stride}]`));
});
