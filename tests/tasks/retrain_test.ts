/**
 * The `retrain` stage end to end on the CI synthetic set: cRT, LWS and tau-norm (given and
 * searched) on a trained model each write a model folder that differs from the input only in
 * the classifier, and that `predict` takes as it is; bad input fails at plan time where the
 * plan can know, else at stage start, naming the value.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertClose, gpuTest, SEED } from "../_util.ts";
import { InputError } from "../../core/errors.ts";
import { generateSynthetic } from "../../data/synth/generate.ts";
import { readSafetensors, writeSafetensors } from "../../model/checkpoint/safetensors.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { directContext } from "../../pipeline/stage.ts";
import { defaultRegistry } from "../../tasks/registry.ts";
import { predictParams, predictStage } from "../../tasks/predict.ts";
import { retrainParams, retrainStage } from "../../tasks/retrain.ts";
import { trainParams, trainStage } from "../../tasks/train.ts";

const dir = await Deno.makeTempDir({ prefix: "tailor_retrain_" });
const synth = generateSynthetic({ outDir: join(dir, "data"), preset: "ci", seed: SEED % 1000 });
const SMALL = { shortSides: [64], workers: 0 };
const ROI = { samplingRatio: 2, batchPerImage: 16, positiveFraction: 0.25, fgIou: 0.5 };
const BOX_HEAD = { poolSize: 4, fcDim: 32 };
const CLS = ["roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.cls_score.bias"];

let trained: Promise<string> | undefined;
/** A bce model trained for 3 steps, once per file. */
function firstStage(): Promise<string> {
  trained ??= (async () => {
    const s = await synth, out = join(dir, "model");
    await Deno.mkdir(out);
    await trainStage.run(
      trainParams.parse({
        dataset: s.trainJson,
        model: "tiny",
        modelOverrides: { roi: ROI, boxHead: BOX_HEAD },
        loss: "bce",
        iterations: 3,
        batchSize: 2,
        ...SMALL,
      }),
      directContext(out),
    );
    return out;
  })();
  return trained;
}

async function retrain(name: string, params: Record<string, unknown>) {
  const s = await synth, out = join(dir, name);
  await Deno.mkdir(out);
  const p = retrainParams.parse({
    model: await firstStage(),
    dataset: s.trainJson,
    batchSize: 2,
    checkpointEvery: 1,
    testShortSide: 64,
    ...SMALL,
    ...params,
  });
  return { out: await retrainStage.run(p, directContext(out)), dir: out };
}

/** Weights of a model folder, by name. */
async function weightsOf(model: string) {
  return (await readSafetensors(join(model, "weights.safetensors"))).tensors;
}

/** Category j's weights (j = columns - 1: the background) of a classifier stored as torchvision's: [columns, inDim], background row first. */
function column(w: Float32Array, columns: number, j: number): number[] {
  const inDim = w.length / columns, row = (j + 1) % columns;
  return Array.from(w.subarray(row * inDim, (row + 1) * inDim));
}

gpuTest("retrain: cRT, LWS and tau-norm change only the classifier, and predict takes their models", async () => {
  const first = await firstStage(), before = await weightsOf(first);
  const card = JSON.parse(await Deno.readTextFile(join(first, "model.json")));
  const c = card.numClasses, columns = c + 1, s = await synth;
  const runs = {
    crt: await retrain("crt", { method: "crt", iterations: 2 }),
    lws: await retrain("lws", { method: "lws", iterations: 2, sampler: "square-root" }),
    tau: await retrain("tau", { method: "tau-norm", tau: 1 }),
  };
  for (const [name, { out, dir: d }] of Object.entries(runs)) {
    assert.equal(out.model, d);
    assert.equal(out.steps, name === "tau" ? 0 : 2);
    const after = await weightsOf(d);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].filter((k) => !k.startsWith("optim.")).sort());
    for (const [k, t] of after) {
      if (!CLS.includes(k)) assert.deepEqual(t.data, before.get(k)!.data, `${name}: "${k}" unchanged`);
    }
    assert.notDeepEqual(after.get(CLS[0])!.data, before.get(CLS[0])!.data, `${name}: the classifier changed`);
    const outCard = JSON.parse(await Deno.readTextFile(join(d, "model.json")));
    assert.deepEqual({ ...outCard, lossState: null }, { ...card, lossState: null }, `${name}: the card`);
    const pred = join(dir, `pred_${name}`);
    await Deno.mkdir(pred);
    const p = await predictStage.run(
      predictParams.parse({ model: d, dataset: s.valJson, shortSide: 64, scoreThreshold: 0, workers: 0 }),
      directContext(pred),
    );
    assert.ok(p.detections > 0, `${name}: no detections`);
  }
  // LWS: category columns scaled, the background column and the biases as they were.
  const w0 = before.get(CLS[0])!.data, lws = await weightsOf(runs.lws.dir);
  const w1 = lws.get(CLS[0])!.data;
  assert.deepEqual(lws.get(CLS[1])!.data, before.get(CLS[1])!.data);
  assert.deepEqual(column(w1, columns, c), column(w0, columns, c));
  for (let j = 0; j < c; j++) {
    const a = column(w0, columns, j), b = column(w1, columns, j), k = b[0] / a[0];
    assertClose(b, a.map((v) => v * k), { rtol: 1e-5, atol: 1e-9 }, `LWS column ${j} is a multiple`);
  }
  // tau = 1: unit category columns.
  const tau = (await weightsOf(runs.tau.dir)).get(CLS[0])!.data;
  for (let j = 0; j < c; j++) {
    assertClose([Math.hypot(...column(tau, columns, j))], [1], { rtol: 1e-5 }, `tau col ${j}`);
  }
  assert.equal(runs.tau.out.tau, 1);
});

gpuTest("retrain: tau-norm without tau chooses it by held-out AP over its grid", async () => {
  const { out, dir: d } = await retrain("tau_search", { method: "tau-norm", tauGrid: [0, 1.5], heldOutImages: 6 });
  const info = JSON.parse(await Deno.readTextFile(join(d, "retrain.json")));
  assert.deepEqual(info.tau_search.map((t: { tau: number }) => t.tau), [0, 1.5]);
  for (const t of info.tau_search) assert.ok(t.AP >= 0 && t.AP <= 1 && t.APr <= 1, JSON.stringify(t));
  const best = info.tau_search.reduce((a: { AP: number }, b: { AP: number }) => (b.AP > a.AP ? b : a));
  assert.equal(out.tau, best.tau);
});

gpuTest(
  "retrain refuses a model without a classifier of the loss's shape, and a dataset of other categories",
  async () => {
    const first = await firstStage(), s = await synth;
    const broken = join(dir, "broken");
    await Deno.mkdir(broken);
    await Deno.copyFile(join(first, "model.json"), join(broken, "model.json"));
    const w = await weightsOf(first);
    const cls = w.get(CLS[0])!;
    w.set(CLS[0], { shape: [cls.shape[0] - 1, cls.shape[1]], data: cls.data.slice(0, cls.data.length - cls.shape[1]) });
    await writeSafetensors(join(broken, "weights.safetensors"), w);
    const out = join(dir, "never");
    await Deno.mkdir(out);
    const params = { dataset: s.trainJson, method: "crt", ...SMALL };
    await assert.rejects(
      () => retrainStage.run(retrainParams.parse({ ...params, model: broken }), directContext(out)),
      (e: Error) =>
        e instanceof InputError &&
        /"roi_heads\.box_predictor\.cls_score\.weight" of shape \[\d+,32\] \(the bce loss over \d+ categories\), got \[\d+,32\]/
          .test(e.message),
    );
    // A dataset without the model's last category.
    const gt = JSON.parse(await Deno.readTextFile(s.trainJson));
    const dropped = gt.categories.pop().id;
    gt.annotations = gt.annotations.filter((a: { category_id: number }) => a.category_id !== dropped);
    for (const im of gt.images) {
      for (const key of ["neg_category_ids", "not_exhaustive_category_ids"]) {
        im[key] = im[key].filter((id: number) => id !== dropped);
      }
    }
    const other = join(dir, "data", "fewer_categories.json");
    await Deno.writeTextFile(other, JSON.stringify(gt));
    await assert.rejects(
      () => retrainStage.run(retrainParams.parse({ ...params, model: first, dataset: other }), directContext(out)),
      (e: Error) => e instanceof InputError && /the model knows \d+ categories .*the dataset \d+/.test(e.message),
    );
  },
);

Deno.test("retrain: tau outside [0, 2], an unknown sampler and tau for cRT fail when the pipeline is planned", () => {
  const yaml = (with_: string) =>
    `stages:
  data: { uses: synth, with: { preset: ci } }
  train: { uses: train, with: { dataset: "\${data.trainJson}", iterations: 1 } }
  again:
    uses: retrain
    with:
      model: \${train.model}
      dataset: \${data.trainJson}
${with_}
`;
  const errorOf = (with_: string) => {
    try {
      planPipeline(parsePipeline("p.yaml", yaml(with_)), defaultRegistry());
    } catch (e) {
      assert.ok(e instanceof InputError, String(e));
      return e.message;
    }
    throw new Error("planned without an error");
  };
  assert.match(
    errorOf("      method: tau-norm\n      tau: 2.5"),
    /^p\.yaml:10:12: Invalid "stages\.again\.with\.tau".*2\.5/,
  );
  assert.match(
    errorOf("      method: crt\n      sampler: balanced"),
    /^p\.yaml:10:16: Invalid "stages\.again\.with\.sampler".*"class-balanced".*\(got "balanced"\)/,
  );
  assert.match(
    errorOf("      method: lws\n      tau: 1"),
    /"stages\.again\.with\.tau": only tau-norm takes tau, not lws/,
  );
  assert.match(
    errorOf("      method: tau-norm\n      tauGrid: [0, 3]"),
    /"stages\.again\.with\.tauGrid\[1\]": Too big/,
  );
  assert.match(errorOf("      method: clsrt"), /"stages\.again\.with\.method".*"crt"/);
  // A valid one plans.
  planPipeline(parsePipeline("p.yaml", yaml("      method: tau-norm\n      tau: 0.7")), defaultRegistry());
});
