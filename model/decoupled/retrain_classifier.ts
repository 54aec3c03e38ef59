/**
 * Decoupled classifier re-training (Kang et al., ICLR 2020) on a frozen detector. cRT re-initialises
 * and re-trains the classifier; LWS learns s_j = 1 + d_j per category column (decay pulls s_j to 1, not 0).
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../../core/atomic.ts";
import { InputError } from "../../core/errors.ts";
import { Rng } from "../../core/rng.ts";
import type { ClassificationLoss, LossState } from "../../losses/loss.ts";
import { add, backward, matmul, mul } from "../../tensor/ops.ts";
import { noGrad } from "../../tensor/autograd.ts";
import { parameter, SGD } from "../../tensor/optim.ts";
import { initTensors, Tensor, tidyAsync } from "../../tensor/tensor.ts";
import { priorBias } from "../heads/box.ts";
import { loadLatestCheckpoint, saveCheckpoint } from "../checkpoint/training.ts";
import type { ImageBatch, ImageTargets } from "../detector.ts";
import type { NamedArray } from "../checkpoint/safetensors.ts";
import { learningRate, type LrSchedule } from "../schedule.ts";
import { type BatchSource, classifierPrior, runCheckpointedSteps } from "../trainer.ts";

/** What re-training needs of a detector: classifier features with sampled labels, and its values in loss order. */
export interface RetrainableDetector {
  classifierInputs(
    batch: ImageBatch,
    targets: ImageTargets[],
    rng: Rng,
  ): Promise<{ features: Tensor; labels: Int32Array }>;
  /** logits = features [R, inDim] @ W [inDim, columns] + b; `stored`: the parameters as the weights file names them. */
  classifierParams(): { inDim: number; columns: number; stored: { name: string; shape: number[] }[] };
  readClassifier(): Promise<{ weight: Float32Array; bias: Float32Array }>;
  writeClassifier(c: { weight: ArrayLike<number>; bias: ArrayLike<number> }): void;
}

export type RetrainMethod = "crt" | "lws";

export interface RetrainOptions {
  detector: RetrainableDetector;
  method: RetrainMethod;
  /** The classification loss, as the detector was trained with (its columns are the classifier's). */
  loss: ClassificationLoss;
  /** Batches from the re-training sampler (see `trainingData`'s `sampler`). */
  data: BatchSource;
  workDir: string;
  iterations: number;
  batchSize: number;
  lr: LrSchedule;
  momentum: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  clipNorm: number;
  seed: number;
  checkpointEvery: number;
  /** Stop after this many steps of this call (for tests of resume); the run stays resumable. */
  stopAfter?: number;
  onStep?: (s: { step: number; lr: number; loss: number; imagesPerSec: number }) => void;
  log?: (line: string) => void;
}

export interface RetrainResult {
  steps: number;
  trainLog: string;
  gradStats: string;
}

const stepSeed = (seed: number, step: number, salt: number) => ((seed * 2246822519) ^ (step * 3266489917 + salt)) >>> 0;

/**
 * Re-train the classifier of `detector` by cRT or LWS and write the result into it.
 *
 * @example
 * ```ts
 * const model = await loadTrainedModel("runs/bench/stages/train[loss=bce,seed=1]");
 * const data = trainingData({ dataset, seed: 1, repeatThreshold: null, sampler: new ClassAwareSampler({ dataset, power: 0 }) });
 * await retrainClassifier({ detector: model.detector, method: "crt", loss: model.loss, data, workDir: "work",
 *   iterations: 300, batchSize: 4, lr: LrSchedule.parse({ base: 0.02, decay: "cosine" }), momentum: 0.9,
 *   weightDecay: 1e-4, clipNorm: 10, seed: 1, checkpointEvery: 100 });
 * ```
 */
export async function retrainClassifier(o: RetrainOptions): Promise<RetrainResult> {
  await initTensors();
  const { inDim, columns } = o.detector.classifierParams();
  if (columns !== o.loss.columns) {
    throw new InputError(
      `Cannot re-train a classifier of ${columns} columns with the ${o.loss.name} loss, which takes ${o.loss.columns}`,
    );
  }
  const c = o.loss.numClasses;
  const ckptDir = join(o.workDir, "checkpoints");
  const logPath = join(o.workDir, "train_log.jsonl"), statsPath = join(o.workDir, "grad_stats.json");
  await Deno.mkdir(ckptDir, { recursive: true });
  const original = await o.detector.readClassifier();
  const initRng = new Rng(stepSeed(o.seed, 0, 7)), prior = classifierPrior(o.loss.name);
  // cRT: the classifier as training initialises it; LWS: the trained one, fixed, with scales 1 + d.
  const trained: [string, Tensor][] = o.method === "crt"
    ? [
      [
        "weight",
        parameter(Float32Array.from({ length: inDim * columns }, () => 0.01 * initRng.normal()), [inDim, columns]),
      ],
      ["bias", parameter(new Float32Array(columns).fill(prior > 0 ? priorBias(prior) : 0), [columns])],
    ]
    : [["scale", parameter(new Float32Array(columns), [1, columns])]];
  const fixed = o.method === "lws"
    ? {
      weight: Tensor.from(original.weight, [inDim, columns]).keep(),
      bias: Tensor.from(original.bias, [columns]).keep(),
      // Only category columns have a scale: the rest of the product is masked out of it.
      categories: Tensor.from(Float32Array.from({ length: columns }, (_, j) => (j < c ? 1 : 0)), [1, columns]).keep(),
    }
    : null;
  const opt = new SGD(trained.map(([, t]) => t), {
    lr: o.lr.base,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    clipNorm: o.clipNorm > 0 ? o.clipNorm : undefined,
  });
  const logits = (features: Tensor): Tensor => {
    if (!fixed) return add(matmul(features, trained[0][1]), trained[1][1]);
    const z = noGrad(() => matmul(features, fixed.weight));
    return add(add(z, mul(noGrad(() => mul(z, fixed.categories)), trained[0][1])), fixed.bias);
  };

  let start = 0;
  const resumed = await loadLatestCheckpoint(ckptDir);
  if (resumed) {
    start = resumed.step;
    for (const [name, t] of trained) t.write(resumed.tensors.get(`classifier.${name}`)!.data);
    const slots: Record<string, Float32Array[]> = {};
    for (const key of resumed.tensors.keys()) {
      const slot = /^optim\.([^.]+)\./.exec(key)?.[1];
      if (slot) slots[slot] = trained.map(([name]) => resumed.tensors.get(`optim.${slot}.${name}`)!.data);
    }
    opt.importState({ kind: "sgd", step: (resumed.state.optimizer as { step: number }).step, slots });
    o.loss.loadState(resumed.state.loss as LossState);
    o.log?.(`resuming re-training from step ${start}`);
  }
  const last = await runCheckpointedSteps({
    ...o,
    start,
    logPath,
    what: "re-training",
    streamSeed: (step) => stepSeed(o.seed, step, 1),
    async run({ batch, targets }, step) {
      const lr = learningRate(o.lr, step, o.iterations), t0 = performance.now();
      const value = await tidyAsync(async () => {
        const inputs = await o.detector.classifierInputs(batch, targets, new Rng(stepSeed(o.seed, step, 2)));
        const loss = o.loss.forward(logits(inputs.features), inputs.labels).loss;
        const v = await loss.item();
        if (!Number.isFinite(v)) {
          throw new InputError(
            `Re-training stopped at step ${step}: the loss is ${v}; the last good checkpoint is in "${ckptDir}"`,
          );
        }
        backward(loss);
        opt.step(lr);
        opt.zeroGrad();
        return v;
      });
      const rec = { step: step + 1, lr, loss: { total: value, cls: value }, imagesPerSec: 0 };
      rec.imagesPerSec = o.batchSize / ((performance.now() - t0) / 1000);
      o.onStep?.({ step: step + 1, lr, loss: value, imagesPerSec: rec.imagesPerSec });
      return rec;
    },
    async checkpoint(step) {
      const tensors = new Map<string, NamedArray>();
      const st = await opt.exportState();
      for (const [k, [name, t]] of trained.entries()) {
        tensors.set(`classifier.${name}`, { shape: [...t.shape], data: await t.toF32() });
        for (const [slot, arrays] of Object.entries(st.slots)) {
          tensors.set(`optim.${slot}.${name}`, { shape: [...t.shape], data: arrays[k] });
        }
      }
      const state = { step, optimizer: { kind: st.kind, step: st.step }, loss: await o.loss.state() };
      await saveCheckpoint(ckptDir, step, { tensors, state });
    },
  });
  const s = await o.loss.gradStats();
  await writeJsonAtomic(statsPath, {
    loss: o.loss.name,
    step: last,
    pos_grad: Array.from(s.pos_grad),
    neg_grad: Array.from(s.neg_grad),
  });
  if (last === o.iterations) o.detector.writeClassifier(await _result(trained, original, c));
  for (const [, t] of trained) t.dispose();
  if (fixed) { for (const t of Object.values(fixed)) t.dispose(); }
  return { steps: last, trainLog: logPath, gradStats: statsPath };
}

/** The classifier to write back: cRT's trained one, or LWS's scales folded into the weights. */
async function _result(
  trained: [string, Tensor][],
  original: { weight: Float32Array; bias: Float32Array },
  numClasses: number,
): Promise<{ weight: Float32Array; bias: Float32Array }> {
  if (trained[0][0] === "weight") return { weight: await trained[0][1].toF32(), bias: await trained[1][1].toF32() };
  const d = await trained[0][1].toF32(), columns = d.length;
  const weight = Float32Array.from(original.weight, (w, k) => {
    const j = k % columns;
    return j < numClasses ? w * (1 + d[j]) : w;
  });
  return { weight, bias: original.bias };
}
