/**
 * The `retrain` stage: the decoupled baselines (Kang et al., ICLR 2020) cRT, LWS and tau-norm,
 * each writing a model folder like `train`'s; the re-training uses the model's own loss.
 */
import { join } from "node:path";
import { z } from "zod";
import { inputFile, inputFolder } from "../pipeline/input_path.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError, quote } from "../core/errors.ts";
import { Rng } from "../core/rng.ts";
import { ClassAwareSampler } from "../data/class_aware_sampler.ts";
import type { Dataset } from "../data/dataset.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import type { ClassificationLoss } from "../losses/loss.ts";
import { createLoss } from "../losses/registry.ts";
import { DetectorConfig } from "../model/config.ts";
import { chooseTau, heldOutImages, type TauTrial } from "../model/decoupled/choose_tau.ts";
import { retrainClassifier } from "../model/decoupled/retrain_classifier.ts";
import { tauNormalize } from "../model/decoupled/tau_norm.ts";
import { Detector } from "../model/detector.ts";
import { type ModelCard, readModelCard, writeModelCard } from "../model/model_card.ts";
import { type NamedArray, readSafetensors, writeSafetensors } from "../model/checkpoint/safetensors.ts";
import { LrSchedule } from "../model/schedule.ts";
import { loadTrainedModel, MODEL_WEIGHTS, type TrainedModel } from "../model/trained_model.ts";
import { trainingData } from "../model/training_data.ts";
import { defineStage } from "../pipeline/stage.ts";
import { loopParams } from "./_loop_params.ts";
import { initTensors } from "../tensor/tensor.ts";

/** Class-aware q = 0 and q = 1/2, repeat-factor, uniform. */
export const RETRAIN_SAMPLERS = ["class-balanced", "square-root", "repeat-factor", "uniform"] as const;

const DEFAULT_TAU_GRID = Array.from({ length: 9 }, (_, k) => k / 4);

export const retrainParams = z.strictObject({
  model: inputFolder(),
  /** The set the model was trained on. */
  dataset: inputFile(),
  imageRoot: inputFolder().optional(),
  method: z.enum(["crt", "lws", "tau-norm"]),
  sampler: z.enum(RETRAIN_SAMPLERS).default("class-balanced"),
  repeatThreshold: z.number().positive().max(1).default(0.001),
  iterations: z.int().positive().default(300),
  ...loopParams,
  lr: LrSchedule.default({ base: 0.02, warmupIters: 0, warmupFactor: 0.1, decay: "cosine", steps: [], gamma: 0.1 }),
  /** Left out, tau is chosen on held-out training images. */
  tau: z.number().min(0).max(2).optional(),
  tauGrid: z.array(z.number().min(0).max(2)).min(1).default(DEFAULT_TAU_GRID),
  heldOutImages: z.int().positive().default(300),
  testShortSide: z.int().positive().default(128),
}).superRefine((p, ctx) => {
  if (p.tau !== undefined && p.method !== "tau-norm") {
    ctx.addIssue({ code: "custom", path: ["tau"], message: `only tau-norm takes tau, not ${p.method}`, input: p.tau });
  }
});
export type RetrainParams = z.infer<typeof retrainParams>;

export const retrainOutput = z.object({
  model: z.string(),
  weights: z.string(),
  trainLog: z.string(),
  gradStats: z.string(),
  steps: z.int(),
  loss: z.string(),
  method: z.string(),
  tau: z.number().nullable(),
});

/** Checks the classifier's shape against card and loss, and the categories against `dataset`. */
async function _loadModel(dir: string, dataset: Dataset, where: string): Promise<TrainedModel> {
  const card = await readModelCard(dir);
  const loss = createLoss(card.loss, card.lossParams, { numClasses: card.numClasses });
  const columns = loss.columns;
  loss.dispose();
  const { stored } = new Detector(DetectorConfig.parse(card.config), card.numClasses, columns, new Rng(1), 0.001, {
    loss: card.loss,
  })
    .classifierParams();
  const weightsPath = join(dir, MODEL_WEIGHTS);
  const { tensors } = await readSafetensors(weightsPath);
  for (const { name, shape } of stored) {
    const got = tensors.get(name)?.shape;
    if (got?.join() !== shape.join()) {
      throw new InputError(
        `Cannot re-train the classifier in "${weightsPath}": expected "${name}" of shape [${shape}] ` +
          `(the ${card.loss} loss over ${card.numClasses} categories), got ${got ? `[${got}]` : "none"}`,
      );
    }
  }
  const ids = Array.from(dataset.categories.ids);
  if (card.categoryIds.join() !== ids.join()) {
    throw new InputError(
      `Cannot re-train "${dir}" on ${quote(where)}: the model knows ${card.numClasses} categories ` +
        `(ids ${quote(card.categoryIds)}), the dataset ${ids.length} (ids ${quote(ids)})`,
    );
  }
  return await loadTrainedModel(dir);
}

/** Returns the loss whose state the new card keeps. */
async function _retrain(
  p: RetrainParams,
  model: TrainedModel,
  dataset: Dataset,
  ctx: Parameters<typeof retrainStage.run>[1],
): Promise<{ loss: ClassificationLoss; steps: number; trainLog: string; gradStats: string }> {
  // cRT's classifier is new, so its loss starts fresh; LWS keeps the trained one's state.
  const card = model.card;
  const loss = p.method === "crt"
    ? createLoss(card.loss, card.lossParams, { numClasses: card.numClasses })
    : model.loss;
  const power = p.sampler === "class-balanced" ? 0 : 0.5;
  const data = trainingData({
    dataset,
    seed: p.seed,
    repeatThreshold: p.sampler === "repeat-factor" ? p.repeatThreshold : null,
    sampler: p.sampler === "class-balanced" || p.sampler === "square-root"
      ? new ClassAwareSampler({ dataset, power, seed: p.seed })
      : undefined,
    augment: { shortSides: p.shortSides, maxSize: p.maxSize, flipProbability: p.flipProbability },
    workers: p.workers,
    onBadImage: p.onBadImage,
  });
  ctx.log(`${p.method}: ${p.iterations} steps of ${p.batchSize} images, ${p.sampler} sampling, ${card.loss} loss`);
  const r = await retrainClassifier({
    detector: model.detector,
    method: p.method as "crt" | "lws",
    loss,
    data,
    workDir: ctx.workDir ?? ctx.outDir,
    iterations: p.iterations,
    batchSize: p.batchSize,
    lr: p.lr,
    momentum: p.momentum,
    weightDecay: p.weightDecay,
    clipNorm: p.clipNorm,
    seed: p.seed,
    checkpointEvery: p.checkpointEvery,
    onStep: (s) =>
      ctx.progress(
        s.step,
        p.iterations,
        `cls ${s.loss.toFixed(3)} lr ${s.lr.toPrecision(3)} ${s.imagesPerSec.toFixed(1)} img/s`,
        "train",
      ),
    log: ctx.log,
  });
  return { loss, ...r };
}

/**
 * @example
 * ```ts
 * const p = retrainParams.parse({ model: "runs/bench/stages/train[loss=bce,seed=1]", dataset: "train.json", method: "crt" });
 * const out = await retrainStage.run(p, directContext("runs/crt"));
 * out.model; // "runs/crt", with model.json and weights.safetensors for predict
 * ```
 */
export const retrainStage = defineStage({
  kind: "retrain",
  description: "Decoupled classifier baselines on a trained model: cRT, LWS or tau-norm",
  params: retrainParams,
  output: retrainOutput,
  async run(p, ctx) {
    await initTensors();
    const { dataset } = await ingestDataset(p.dataset, { imageRoot: p.imageRoot, polygons: false });
    const model = await _loadModel(p.model, dataset, p.dataset);
    const out = ctx.outDir, work = ctx.workDir ?? ctx.outDir;
    const trainLog = join(out, "train_log.jsonl"), gradStats = join(out, "grad_stats.json");
    try {
      let loss = model.loss, steps = 0, tau: number | null = null, trials: TauTrial[] = [];
      if (p.method === "tau-norm") {
        if (p.tau === undefined) {
          const images = heldOutImages(dataset, p.heldOutImages, p.seed);
          ctx.log(`choosing tau among ${p.tauGrid.join(", ")} on ${images.length} held-out training images`);
          ({ tau, trials } = await chooseTau(model, dataset, {
            grid: p.tauGrid,
            images,
            workDir: join(work, "tau_search"),
            batchSize: p.batchSize,
            shortSide: p.testShortSide,
            maxSize: p.maxSize,
            workers: p.workers,
            log: ctx.log,
          }));
        } else tau = p.tau;
        const { inDim, columns } = model.detector.classifierParams();
        const c = await model.detector.readClassifier();
        const shape = { inDim, columns, numClasses: model.card.numClasses };
        model.detector.writeClassifier({ weight: tauNormalize(c.weight, shape, tau), bias: c.bias });
        ctx.log(`tau-norm with tau ${tau}`);
        await Deno.writeTextFile(trainLog, "");
        const state = await loss.state();
        await writeJsonAtomic(gradStats, { loss: loss.name, pos_grad: state.pos_grad, neg_grad: state.neg_grad });
      } else {
        const r = await _retrain(p, model, dataset, ctx);
        ({ loss, steps } = r);
        if (r.trainLog !== trainLog) await Deno.copyFile(r.trainLog, trainLog);
        if (r.gradStats !== gradStats) await Deno.copyFile(r.gradStats, gradStats);
      }
      const tensors = new Map<string, NamedArray>();
      for (const [name, t] of model.detector.params.entries()) {
        tensors.set(name, { shape: [...t.shape], data: await t.toF32() });
      }
      const weights = join(out, MODEL_WEIGHTS);
      await writeSafetensors(weights, tensors);
      const card: ModelCard = { ...model.card, lossState: await loss.state() };
      await writeModelCard(out, card);
      await writeJsonAtomic(join(out, "retrain.json"), {
        method: p.method,
        from: p.model,
        sampler: p.method === "tau-norm" ? null : p.sampler,
        steps,
        tau,
        tau_search: trials,
      }, 1);
      if (loss !== model.loss) loss.dispose();
      return { model: out, weights, trainLog, gradStats, steps, loss: card.loss, method: p.method, tau };
    } finally {
      model.dispose();
    }
  },
});
