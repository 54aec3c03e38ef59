import assert from "node:assert/strict";
import { decodeRle } from "../../eval/rle.ts";
import { type CroppedMask, encodeMask, maskToSegmentation, rleToMask, rleToString } from "../../eval/rle_encode.ts";
import { rng, SEED } from "./_util.ts";

/** Strings written by pycocotools' C encoder (see data/rle_encode/generate.py). */
const FIXTURE = JSON.parse(
  await Deno.readTextFile(new URL("./data/rle_encode/pycocotools_strings.json", import.meta.url)),
) as { cases: { h: number; w: number; counts: string; string: string }[] };

/** Column-major pixels from run lengths, written out here rather than with the code under test. */
function expand(h: number, w: number, counts: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(h * w).fill(7);
  let p = 0;
  for (let j = 0; j < counts.length; j++) for (let k = 0; k < counts[j]; k++) out[p++] = j % 2;
  assert.equal(p, h * w, "fixture runs cover the image");
  return out;
}

function whole(h: number, w: number, bits: Uint8Array): CroppedMask {
  return { height: h, width: w, x: 0, y: 0, cropWidth: w, cropHeight: h, bits };
}

Deno.test("rleToString() and encodeMask() give pycocotools' own strings and runs", () => {
  assert.ok(FIXTURE.cases.length > 40);
  for (const [i, c] of FIXTURE.cases.entries()) {
    const counts = c.counts.split(" ").map(Number);
    const rle = encodeMask(whole(c.h, c.w, expand(c.h, c.w, counts)));
    assert.deepEqual(Array.from(rle.counts), counts, `case ${i} runs`);
    assert.equal(rleToString(rle), c.string, `case ${i} string`);
    assert.deepEqual(maskToSegmentation(whole(c.h, c.w, expand(c.h, c.w, counts))), {
      size: [c.h, c.w],
      counts: c.string,
    });
    // The evaluator's decoder reads them back.
    assert.deepEqual(Array.from(decodeRle({ size: [c.h, c.w], counts: c.string }).counts), counts, `case ${i}`);
  }
});

Deno.test(`encodeMask() of a cropped mask equals the whole-image encoding, and round-trips (seed ${SEED})`, () => {
  const r = rng(71);
  for (let trial = 0; trial < 200; trial++) {
    const h = 1 + r.int(trial < 150 ? 30 : 3000), w = 1 + r.int(trial < 150 ? 30 : 300);
    const cw = r.int(w + 1), ch = r.int(h + 1);
    const x = r.int(w - cw + 1), y = r.int(h - ch + 1);
    const density = r.float();
    const bits = new Uint8Array(cw * ch).map(() => (r.float() < density ? 1 + r.int(3) : 0));
    // A run of foreground along the rectangle's edge on some trials, to touch its borders.
    if (trial % 3 === 0 && ch > 0) bits.fill(1, 0, ch);
    const full = new Uint8Array(h * w);
    for (let c = 0; c < cw; c++) {
      for (let q = 0; q < ch; q++) full[(x + c) * h + y + q] = bits[c * ch + q] ? 1 : 0;
    }
    const cropped = encodeMask({ height: h, width: w, x, y, cropWidth: cw, cropHeight: ch, bits });
    const reference = encodeMask(whole(h, w, full));
    assert.deepEqual(cropped, reference, `trial ${trial}`);
    assert.deepEqual(rleToMask(cropped), full);
    let sum = 0;
    cropped.counts.forEach((n, j) => {
      sum += n;
      if (j > 0) assert.ok(n > 0, "only the first run may be empty");
    });
    assert.equal(sum, h * w);
    const decoded = decodeRle({ size: [h, w], counts: rleToString(cropped) });
    assert.deepEqual(decoded, cropped);
  }
});

Deno.test("encodeMask() refuses a rectangle outside its image or bits of the wrong length", () => {
  const bits = new Uint8Array(6);
  assert.throws(() => encodeMask({ height: 4, width: 4, x: 2, y: 0, cropWidth: 3, cropHeight: 2, bits }), /3x2 at/);
  assert.throws(() => encodeMask({ height: 4, width: 4, x: 0, y: 0, cropWidth: 2, cropHeight: 2, bits }), /6 values/);
  assert.throws(() => rleToMask({ h: 2, w: 2, counts: Uint32Array.of(3, 2) }), /past 2x2/);
});
