/**
 * The train and predict stages end to end on the CI synthetic set, for a
 * loss with the background channel (C+1 logit columns) and one without (C):
 * predict rebuilds the loss from model.json alone and writes valid LVIS results.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest, SEED } from "../_util.ts";
import { generateSynthetic } from "../../data/synth/generate.ts";
import { directContext } from "../../pipeline/stage.ts";
import { trainParams, trainStage } from "../../tasks/train.ts";
import { predictParams, predictStage } from "../../tasks/predict.ts";

const dir = await Deno.makeTempDir({ prefix: "tailor_stages_" });
const synth = generateSynthetic({ outDir: join(dir, "data"), preset: "ci", seed: SEED % 1000 });

for (const loss of ["eql", "eqlv2"]) {
  gpuTest(`train then predict with ${loss} writes LVIS results with valid ids, boxes and scores`, async () => {
    const s = await synth;
    const modelDir = join(dir, `model_${loss}`), predDir = join(dir, `pred_${loss}`);
    await Deno.mkdir(modelDir);
    await Deno.mkdir(predDir);
    const trained = await trainStage.run(
      trainParams.parse({
        dataset: s.trainJson,
        model: "tiny",
        modelOverrides: {
          roi: { samplingRatio: 2, batchPerImage: 16, positiveFraction: 0.25, fgIou: 0.5 },
          boxHead: { poolSize: 4, fcDim: 32 },
        },
        loss,
        iterations: 2,
        batchSize: 2,
        shortSides: [64],
        workers: 0,
      }),
      directContext(modelDir),
    );
    assert.equal(trained.steps, 2);
    const card = JSON.parse(await Deno.readTextFile(join(modelDir, "model.json")));
    if (loss === "eql") {
      assert.ok(Array.isArray(card.lossParams.image_counts), "EQL's frequencies are saved with the model");
    }
    const out = await predictStage.run(
      predictParams.parse({ model: modelDir, dataset: s.valJson, shortSide: 64, scoreThreshold: 0, workers: 0 }),
      directContext(predDir),
    );
    const results = JSON.parse(await Deno.readTextFile(out.results));
    const gt = JSON.parse(await Deno.readTextFile(s.valJson));
    const imageIds = new Set(gt.images.map((i: { id: number }) => i.id));
    const catIds = new Set(gt.categories.map((c: { id: number }) => c.id));
    assert.ok(results.length > 0, "no detections");
    assert.equal(out.detections, results.length);
    const perImage = new Map<number, number>();
    for (const r of results) {
      assert.ok(imageIds.has(r.image_id), `unknown image ${r.image_id}`);
      assert.ok(catIds.has(r.category_id), `unknown category ${r.category_id}`);
      assert.ok(r.score >= 0 && r.score <= 1, `score ${r.score}`);
      assert.equal(r.bbox.length, 4);
      assert.ok(r.bbox.every(Number.isFinite) && r.bbox[2] >= 0 && r.bbox[3] >= 0, `bbox ${r.bbox}`);
      perImage.set(r.image_id, (perImage.get(r.image_id) ?? 0) + 1);
    }
    assert.ok(Math.max(...perImage.values()) <= 300, "more than 300 detections on an image");
  });
}
