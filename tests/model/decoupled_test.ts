/**
 * The decoupled baselines as library functions: tau-normalisation against float64, one LWS
 * step against the float64 loss reference, cRT's re-initialisation, learning and exact
 * resume, on a stand-in detector whose RoI features are fixed rows.
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest, rng, SEED } from "../_util.ts";
import type { Rng } from "../../core/rng.ts";
import { InputError } from "../../core/errors.ts";
import { createLoss } from "../../losses/registry.ts";
import { createReferenceLoss } from "../../losses/reference_loss.ts";
import { type RetrainableDetector, retrainClassifier } from "../../model/decoupled/retrain_classifier.ts";
import { tauNormalize } from "../../model/decoupled/tau_norm.ts";
import { LrSchedule } from "../../model/schedule.ts";
import type { BatchSource } from "../../model/trainer.ts";
import { Tensor } from "../../tensor/tensor.ts";

Deno.test(`tauNormalize() divides each category column by its norm^tau, other columns untouched (seed ${SEED})`, () => {
  const r = rng(1);
  const inDim = 7, columns = 6, c = 4;
  const w = Float64Array.from({ length: inDim * columns }, () => r.uniform(-2, 2) || 0.3);
  const norm = (a: ArrayLike<number>, j: number) =>
    Math.hypot(...Array.from({ length: inDim }, (_, d) => a[d * columns + j]));
  for (const tau of [0, 0.5, 1, 1.7, 2]) {
    const out = tauNormalize(w, { inDim, columns, numClasses: c }, tau);
    for (let j = 0; j < columns; j++) {
      const f = j < c ? Math.pow(norm(w, j), -tau) : 1;
      const want = Array.from({ length: inDim }, (_, d) => w[d * columns + j] * f);
      const got = Array.from({ length: inDim }, (_, d) => out[d * columns + j]);
      assertClose(got, want, { rtol: 1e-6, atol: 0 }, `tau ${tau} column ${j}`);
    }
    if (tau === 1) { for (let j = 0; j < c; j++) assertClose([norm(out, j)], [1], { rtol: 1e-6 }, "unit norm"); }
  }
  for (const tau of [-0.1, 2.01, NaN]) {
    assert.throws(() => tauNormalize(w, { inDim, columns, numClasses: c }, tau), InputError);
  }
});

/** A stand-in detector: image k's one RoI has features row k and label `labels[k]`; its classifier is held here. */
function standIn(r: Rng, o: { images: number; inDim: number; columns: number; numClasses: number }) {
  const features = Float64Array.from({ length: o.images * o.inDim }, () => Math.fround(r.uniform(-1, 1)));
  // Labels a linear rule can learn: the category of the largest of the first C features, or background.
  const labels = Int32Array.from({ length: o.images }, (_, k) => {
    const row = Array.from(features.subarray(k * o.inDim, k * o.inDim + o.numClasses));
    const best = row.indexOf(Math.max(...row));
    return row[best] > 0.2 ? best : o.numClasses;
  });
  const classifier = {
    weight: Float32Array.from({ length: o.inDim * o.columns }, () => r.uniform(-0.5, 0.5)),
    bias: Float32Array.from({ length: o.columns }, () => r.uniform(-0.2, 0.2)),
  };
  const detector: RetrainableDetector = {
    classifierInputs(batch) {
      const ks = Array.from(batch.images.subarray(0, batch.batch));
      const rows = ks.flatMap((k) => Array.from(features.subarray(k * o.inDim, (k + 1) * o.inDim)));
      return Promise.resolve({
        features: Tensor.from(rows, [ks.length, o.inDim]),
        labels: Int32Array.from(ks, (k) => labels[k]),
      });
    },
    classifierParams: () => ({ inDim: o.inDim, columns: o.columns, stored: [] }),
    readClassifier: () => Promise.resolve({ weight: classifier.weight.slice(), bias: classifier.bias.slice() }),
    writeClassifier(c) {
      classifier.weight = Float32Array.from(c.weight);
      classifier.bias = Float32Array.from(c.bias);
    },
  };
  // Batches carry their image indices in `images`; epochs visit the images in a seeded order.
  const data: BatchSource = {
    numClasses: o.numClasses,
    epochOrder: (e) => Uint32Array.from({ length: o.images }, (_, k) => (k * 7 + e * 3) % o.images),
    stream(indices, batchSize) {
      let at = 0;
      const it = {
        next() {
          if (at >= indices.length) return Promise.resolve({ done: true as const, value: undefined });
          const ks = indices.subarray(at, at + batchSize);
          at += batchSize;
          const batch = { images: Float32Array.from(ks), batch: ks.length, height: 1, width: 1, sizes: [] };
          return Promise.resolve({ done: false as const, value: { batch, targets: [] } });
        },
        close() {},
        [Symbol.asyncIterator]() {
          return it;
        },
      };
      return it;
    },
  };
  return { features, labels, classifier, detector, data };
}

const BASE = { momentum: 0, weightDecay: 0, clipNorm: 0, seed: 5, checkpointEvery: 4 };

gpuTest("LWS: one step scales each category column by 1 - lr dL/ds, as the float64 reference says", async () => {
  const r = rng(2), c = 4, inDim = 6, columns = c + 1, batch = 8;
  const s = standIn(r, { images: 16, inDim, columns, numClasses: c });
  const w0 = s.classifier.weight.slice(), b0 = s.classifier.bias.slice();
  const workDir = await Deno.makeTempDir({ prefix: "tailor_lws_" });
  const lr = 0.3;
  await retrainClassifier({
    ...BASE,
    detector: s.detector,
    method: "lws",
    loss: createLoss("ce", {}, { numClasses: c }),
    data: s.data,
    workDir,
    iterations: 1,
    batchSize: batch,
    lr: LrSchedule.parse({ base: lr, warmupIters: 0, decay: "none" }),
  });
  // The first batch is epoch 0's first 8 images; logits z + b with z = features @ W0.
  const ks = Array.from(s.data.epochOrder(0).subarray(0, batch));
  const z = ks.flatMap((k) =>
    Array.from({ length: columns }, (_, j) => {
      let v = 0;
      for (let d = 0; d < inDim; d++) v += s.features[k * inDim + d] * w0[d * columns + j];
      return v;
    })
  );
  const ref = createReferenceLoss("ce", {}, { numClasses: c });
  const g = ref.step({ logits: z.map((v, k) => v + b0[k % columns]), labels: ks.map((k) => s.labels[k]) }).grad;
  for (let j = 0; j < columns; j++) {
    let dL = 0;
    for (let i = 0; i < batch; i++) dL += g[i * columns + j] * z[i * columns + j];
    const scale = j < c ? 1 - lr * dL : 1;
    const want = Array.from({ length: inDim }, (_, d) => w0[d * columns + j] * scale);
    const got = Array.from({ length: inDim }, (_, d) => s.classifier.weight[d * columns + j]);
    assertClose(got, want, { rtol: 1e-5, atol: 1e-7 }, `column ${j}`);
  }
  assert.deepEqual(s.classifier.bias, b0, "LWS keeps the biases");
});

gpuTest("cRT re-initialises the classifier, learns it, and resumes from a checkpoint exactly", async () => {
  const c = 4, inDim = 6, columns = c + 1;
  const shape = { images: 40, inDim, columns, numClasses: c };
  const run = async (stopAfter?: number, workDir?: string) => {
    // The same stand-in each time: the same seed.
    const s = standIn(rng(3), shape);
    const dir = workDir ?? await Deno.makeTempDir({ prefix: "tailor_crt_" });
    const opts = {
      ...BASE,
      momentum: 0.9,
      weightDecay: 1e-4,
      clipNorm: 5,
      detector: s.detector,
      method: "crt" as const,
      loss: createLoss("ce", {}, { numClasses: c }),
      data: s.data,
      workDir: dir,
      iterations: 60,
      batchSize: 8,
      lr: LrSchedule.parse({ base: 0.5, warmupIters: 5, decay: "cosine" }),
    };
    await retrainClassifier({ ...opts, stopAfter });
    if (stopAfter !== undefined) await retrainClassifier(opts);
    const log = (await Deno.readTextFile(`${dir}/train_log.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
    return { s, log };
  };
  const whole = await run();
  const resumed = await run(22);
  assert.deepEqual(resumed.s.classifier.weight, whole.s.classifier.weight, "resumed weights");
  assert.deepEqual(resumed.s.classifier.bias, whole.s.classifier.bias, "resumed biases");
  assert.equal(whole.log.length, 60);
  // Re-initialised: weights of std 0.01 and zero biases give every class nearly 1/5 at step 1.
  assertClose([whole.log[0].loss.cls], [Math.log(columns)], { rtol: 0.02 }, "first loss");
  const late = whole.log.slice(-10).reduce((a, l) => a + l.loss.cls, 0) / 10;
  assert.ok(late < 0.6 * Math.log(columns), `the classifier did not learn: loss ${late}`);
});

gpuTest("retrainClassifier() refuses a loss whose columns are not the classifier's", async () => {
  const s = standIn(rng(4), { images: 8, inDim: 3, columns: 5, numClasses: 4 });
  await assert.rejects(
    () =>
      retrainClassifier({
        ...BASE,
        detector: s.detector,
        method: "crt",
        loss: createLoss("focal", {}, { numClasses: 4 }),
        data: s.data,
        workDir: "/tmp/unused",
        iterations: 1,
        batchSize: 2,
        lr: LrSchedule.parse({ base: 0.1 }),
      }),
    (e: Error) =>
      e instanceof InputError && /classifier of 5 columns with the focal loss, which takes 4/.test(e.message),
  );
});
