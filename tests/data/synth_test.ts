import assert from "node:assert/strict";
import { join } from "node:path";
import { Rng } from "../../core/rng.ts";
import { COLOURS } from "../../data/synth/appearance.ts";
import { synthCategories } from "../../data/synth/catalog.ts";
import { generateSynthetic } from "../../data/synth/generate.ts";
import { forEachPixelInPolygon } from "../../data/synth/raster.ts";
import { drawImage } from "../../data/synth/render_image.ts";
import { ciSet, rng, SEED } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test(`synthCategories() follows LVIS's 337/461/405 split with rare in 1-9 and frequent in >= 100 images (seed ${SEED})`, () => {
  const cats = synthCategories({ count: 1203, rng: rng(1) });
  const by = (f: string) => cats.filter((c) => c.frequency === f);
  assert.deepEqual([by("r").length, by("c").length, by("f").length], [337, 461, 405]);
  assert.ok(by("r").every((c) => c.targetTrainImages >= 1 && c.targetTrainImages <= 9));
  assert.ok(by("c").every((c) => c.targetTrainImages >= 10 && c.targetTrainImages <= 99));
  assert.ok(by("f").every((c) => c.targetTrainImages >= 100));
  assert.equal(new Set(cats.map((c) => c.name)).size, 1203);
});

Deno.test(`generateSynthetic() is fully determined by its seed (seed ${SEED})`, async () => {
  const a = await ciSet();
  const b = await generateSynthetic({ outDir: await Deno.makeTempDir(), preset: "ci", seed: SEED % 100000 });
  const c = await generateSynthetic({ outDir: await Deno.makeTempDir(), preset: "ci", seed: (SEED % 100000) + 1 });
  assert.equal(await Deno.readTextFile(a.trainJson), await Deno.readTextFile(b.trainJson));
  assert.equal(await Deno.readTextFile(a.valJson), await Deno.readTextFile(b.valJson));
  const j: Json = JSON.parse(await Deno.readTextFile(a.trainJson));
  const name = j.images[rng(2).int(j.images.length)].file_name;
  assert.deepEqual(await Deno.readFile(join(a.imageRoot, name)), await Deno.readFile(join(b.imageRoot, name)));
  assert.notEqual(await Deno.readTextFile(a.trainJson), await Deno.readTextFile(c.trainJson));
});

Deno.test(`generateSynthetic() writes consistent LVIS v1 files with federated labels and rare categories in val (seed ${SEED})`, async () => {
  const out = await ciSet();
  const train: Json = JSON.parse(await Deno.readTextFile(out.trainJson));
  const val: Json = JSON.parse(await Deno.readTextFile(out.valJson));
  assert.equal(train.categories.length, 20);
  assert.deepEqual([out.counts.rare, out.counts.common, out.counts.frequent], [6, 8, 6]);
  for (const split of [train, val]) {
    const present = new Map<number, Set<number>>();
    for (const a of split.annotations) {
      if (!present.has(a.image_id)) present.set(a.image_id, new Set());
      present.get(a.image_id)!.add(a.category_id);
      const [x, y, w, h] = a.bbox;
      assert.ok(w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= 64 && y + h <= 64, JSON.stringify(a.bbox));
      const xs = a.segmentation[0].filter((_: number, i: number) => i % 2 === 0);
      assert.equal(Math.min(...xs), x);
    }
    for (const im of split.images) {
      const pos = present.get(im.id) ?? new Set();
      assert.ok(pos.size > 0, `image ${im.id} has no annotation`);
      for (const c of im.neg_category_ids) assert.ok(!pos.has(c), `category ${c} is both present and negative`);
      for (const c of im.not_exhaustive_category_ids) assert.ok(pos.has(c));
    }
  }
  // Every category, rare ones included, has ground truth in val, so APr is measurable.
  const valCats = new Set(val.annotations.map((a: Json) => a.category_id));
  assert.equal(valCats.size, 20);
  // image_count is the number of training images that show the category.
  for (const cat of train.categories) {
    const imgs = new Set(train.annotations.filter((a: Json) => a.category_id === cat.id).map((a: Json) => a.image_id));
    assert.equal(cat.image_count, imgs.size);
  }
});

Deno.test(`drawImage() paints each object's colour inside its polygon and boxes enclose polygons (seed ${SEED})`, () => {
  const r = new Rng(SEED + 3);
  const cats = synthCategories({ count: 50, rng: r });
  for (let t = 0; t < 20; t++) {
    const show = [r.int(50), r.int(50), r.int(50)].filter((v, i, a) => a.indexOf(v) === i);
    const size = 64 + r.int(100);
    const img = drawImage({ width: size, height: size, categories: cats, show, rng: r });
    assert.ok(img.objects.length >= show.length);
    for (const o of img.objects) {
      const main = COLOURS[cats[o.category].colour].rgb;
      let inside = 0;
      let own = 0;
      forEachPixelInPolygon(o.polygon, size, size, (i) => {
        inside++;
        const px = [img.rgb[3 * i], img.rgb[3 * i + 1], img.rgb[3 * i + 2]];
        const isMain = px.every((v, c) => Math.abs(v - main[c]) <= 7);
        const isShade = px.every((v, c) => Math.abs(v - main[c] * 0.45) <= 7);
        if (isMain || isShade) own++;
      });
      // At most 40% of an object is hidden by later ones (rounding the outline can move a few pixels).
      assert.ok(own >= 0.55 * inside, `only ${own} of ${inside} pixels show the object's colour`);
      const [x, y, w, h] = o.bbox;
      for (let k = 0; k < o.polygon.length; k += 2) {
        assert.ok(o.polygon[k] >= x - 1e-9 && o.polygon[k] <= x + w + 0.011);
        assert.ok(o.polygon[k + 1] >= y - 1e-9 && o.polygon[k + 1] <= y + h + 0.011);
      }
    }
  }
});
