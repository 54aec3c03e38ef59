/** The `train` stage; a re-run after a kill resumes from the last checkpoint. */
import { join } from "node:path";
import { z } from "zod";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { datasetNotes } from "../data/dataset_notes.ts";
import type { DatasetStats } from "../losses/loss_definition.ts";
import { completeLossParams, createLoss, type LossName, lossNames, lossParamsProblem } from "../losses/registry.ts";
import { detectorConfig, PRESETS } from "../model/config.ts";
import { writeModelCard } from "../model/model_card.ts";
import { MODEL_WEIGHTS } from "../model/trained_model.ts";
import type { Dataset } from "../data/dataset.ts";
import { LrSchedule } from "../model/schedule.ts";
import { trainDetector } from "../model/trainer.ts";
import { trainingData } from "../model/training_data.ts";
import { inputFile, inputFolder } from "../pipeline/input_path.ts";
import { defineStage } from "../pipeline/stage.ts";
import { loopParams } from "./_loop_params.ts";
import { ingestProgress, watchCompiles } from "./_compile_progress.ts";
import { initTensors } from "../tensor/tensor.ts";

export const trainParams = z.strictObject({
  dataset: inputFile(),
  imageRoot: inputFolder().optional(),
  model: z.string().default("tiny").superRefine(_checkPreset),
  modelOverrides: z.record(z.string(), z.unknown()).default({}),
  /** A name in `losses/registry.ts`. */
  loss: z.enum(lossNames as [LossName, ...LossName[]]).default("eqlv2"),
  /** Checked against the loss's schema when the pipeline is planned. */
  lossParams: z.record(z.string(), z.unknown()).default({}),
  /** For matrix runs over losses: `{ eql: { lambda: 0.03 } }`; `lossParams` wins. */
  lossParamsByLoss: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  iterations: z.int().positive().default(200),
  ...loopParams,
  lr: LrSchedule.default({ base: 0.02, warmupIters: 50, warmupFactor: 0.1, decay: "step", steps: [], gamma: 0.1 }),
  statsEvery: z.int().positive().default(20),
  /** Threshold t (LVIS: 0.001), or null for uniform sampling. */
  repeatFactor: z.number().positive().nullable().default(null),
  /** torchvision, mmdetection or ImageNet ResNet names; `all` skips a classifier of another class count. */
  init: z.strictObject({ weights: inputFile(), scope: z.enum(["backbone", "all"]).default("all") }).optional(),
}).superRefine((p, ctx) => {
  // Also run when other fields failed, so a plan lists these problems with the rest.
  const object = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!object(p)) return;
  const ownLoss = (lossNames as string[]).includes(p.loss);
  if (ownLoss && object(p.lossParams) && object(p.lossParamsByLoss)) _checkLossParams(p, ctx);
  if (typeof p.model === "string" && object(p.modelOverrides)) _checkModelOverrides(p, ctx);
}, { when: () => true });
export type TrainParams = z.infer<typeof trainParams>;

export const trainOutput = z.object({
  model: z.string(),
  weights: z.string(),
  trainLog: z.string(),
  gradStats: z.string(),
  steps: z.int(),
  loss: z.string(),
});

function _checkPreset(name: string, ctx: z.RefinementCtx): void {
  if (Object.hasOwn(PRESETS, name)) return;
  ctx.addIssue({ code: "custom", message: `unknown model preset (known: ${Object.keys(PRESETS).join(", ")})` });
}

/** So that a plan names a wrong override before anything runs. */
function _checkModelOverrides(p: { model: string; modelOverrides: Record<string, unknown> }, ctx: z.RefinementCtx) {
  if (!Object.hasOwn(PRESETS, p.model)) return;
  try {
    detectorConfig(p.model, p.modelOverrides as never);
  } catch (e) {
    const issue = (e as { issues?: { path: PropertyKey[]; message: string }[] }).issues?.[0];
    const message = issue ? `${issue.message} (preset ${p.model})` : (e as Error).message;
    ctx.addIssue({ code: "custom", path: ["modelOverrides", ...(issue?.path ?? [])], message });
  }
}

/** Keys the training set supplies may be absent; other losses' `lossParamsByLoss` entries need none. */
function _checkLossParams(
  p: { loss: string; lossParams: Record<string, unknown>; lossParamsByLoss: Record<string, Record<string, unknown>> },
  ctx: z.RefinementCtx,
): void {
  const own = p.lossParamsByLoss[p.loss] ?? {};
  const problem = lossParamsProblem(p.loss, { ...own, ...p.lossParams }, { forPlan: true });
  if (problem) {
    const key = problem.path[0];
    const base = key in p.lossParams || !(key in own) ? ["lossParams"] : ["lossParamsByLoss", p.loss];
    ctx.addIssue({ code: "custom", path: [...base, ...problem.path], message: problem.message, input: problem.value });
  }
  for (const [name, params] of Object.entries(p.lossParamsByLoss)) {
    if (name === p.loss) continue;
    if (!(lossNames as string[]).includes(name)) {
      const message = `unknown loss (expected one of ${lossNames.join(", ")})`;
      ctx.addIssue({ code: "custom", path: ["lossParamsByLoss", name], message, input: params });
      continue;
    }
    const other = lossParamsProblem(name, params, { partial: true });
    if (other) {
      const { path, message, value } = other;
      ctx.addIssue({ code: "custom", path: ["lossParamsByLoss", name, ...path], message, input: value });
    }
  }
}

function _datasetStats(ds: Dataset): DatasetStats {
  let annotated = 0;
  for (let i = 0; i < ds.images.count; i++) annotated += ds.images.annStart[i + 1] > ds.images.annStart[i] ? 1 : 0;
  const { imageCount, instanceCount } = ds.categories;
  return { imageCounts: Array.from(imageCount), instanceCounts: Array.from(instanceCount), annotatedImages: annotated };
}

function _maskCoverage(ds: Dataset): { annotations: number; without: number } {
  const a = ds.annotations;
  let annotations = 0, without = 0;
  for (let k = 0; k < a.count; k++) {
    if (a.iscrowd[k]) continue;
    annotations++;
    if (a.polyEnd[k] === a.polyStart[k] && a.rleEnd[k] === a.rleStart[k]) without++;
  }
  return { annotations, without };
}

const SUMMARY_STEPS = 10;

/**
 * Loss terms averaged over the first and last `SUMMARY_STEPS`, and steps with no mask RoI.
 * @example
 * ```ts
 * lossSummary('{"step":1,"loss":{"total":2,"mask":0.7},"maskRois":12}\n').last.mask; // 0.7
 * ```
 */
export function lossSummary(log: string): {
  steps: number;
  first: Record<string, number>;
  last: Record<string, number>;
  stepsWithoutMask: number;
} {
  const lines = log.split("\n").filter((l) => l.trim()).map((l) =>
    JSON.parse(l) as { loss: Record<string, number>; maskRois?: number }
  );
  const mean = (part: typeof lines) => {
    const out: Record<string, number> = {};
    for (const k of Object.keys(part[0]?.loss ?? {})) {
      out[k] = part.reduce((a, l) => a + (l.loss[k] ?? 0), 0) / part.length;
    }
    return out;
  };
  return {
    steps: lines.length,
    first: mean(lines.slice(0, SUMMARY_STEPS)),
    last: mean(lines.slice(-SUMMARY_STEPS)),
    stepsWithoutMask: lines.filter((l) => l.maskRois === 0).length,
  };
}

export const trainStage = defineStage({
  kind: "train",
  description: "Train a two-stage detector with a long-tail classification loss",
  params: trainParams,
  output: trainOutput,
  async run(p, ctx) {
    await initTensors();
    const config = detectorConfig(p.model, p.modelOverrides as never);
    const { dataset } = await ingestDataset(p.dataset, {
      imageRoot: p.imageRoot,
      masks: config.maskHead !== null,
      onProgress: ingestProgress(ctx),
    });
    for (const note of datasetNotes(dataset)) ctx.log(`note: ${note}`);
    const masks = config.maskHead ? _maskCoverage(dataset) : null;
    if (masks && masks.without > 0) {
      ctx.log(
        masks.without === masks.annotations
          ? `note: no training annotation has a mask: the mask head is not trained, and predictions carry no masks`
          : `note: ${masks.without} of ${masks.annotations} training annotations have no mask: ` +
            `their RoIs get no mask loss`,
      );
    }
    const trainMasks = masks !== null && masks.without < masks.annotations;
    const numClasses = dataset.categories.count;
    // Completed parameters go into model.json, so predict rebuilds the loss without the training set.
    const raw = { ...p.lossParamsByLoss[p.loss], ...p.lossParams };
    const lossParams = completeLossParams(p.loss, raw, _datasetStats(dataset));
    const loss = createLoss(p.loss, lossParams, {
      numClasses,
      where: "with.lossParams",
    });
    const work = ctx.workDir ?? ctx.outDir;
    const data = trainingData({
      dataset,
      seed: p.seed,
      repeatThreshold: p.repeatFactor,
      augment: { shortSides: p.shortSides, maxSize: p.maxSize, flipProbability: p.flipProbability },
      workers: p.workers,
      onBadImage: p.onBadImage,
      masks: trainMasks,
    });
    ctx.log(
      `${numClasses} categories, ${data.epochSize} images per epoch, ${p.iterations} steps of ${p.batchSize}` +
        ` with ${p.loss}`,
    );
    const compiles = await watchCompiles(ctx, {
      config,
      loss: p.loss,
      batch: p.batchSize,
      sizes: [p.shortSides, p.maxSize],
    });
    const r = await trainDetector({
      config,
      loss,
      data,
      outDir: work,
      iterations: p.iterations,
      batchSize: p.batchSize,
      lr: p.lr,
      momentum: p.momentum,
      weightDecay: p.weightDecay,
      clipNorm: p.clipNorm,
      seed: p.seed,
      checkpointEvery: p.checkpointEvery,
      statsEvery: p.statsEvery,
      init: p.init,
      onStep: (s) => {
        compiles.done().catch(() => {});
        const l = s.loss, f = (x: number) => x.toFixed(3);
        ctx.progress(
          s.step,
          p.iterations,
          `loss ${f(l.total)} (rpn ${f(l.rpn_cls)}+${f(l.rpn_box)}, cls ${f(l.cls)}, box ${f(l.box)}` +
            `${l.mask !== undefined ? `, mask ${f(l.mask)}` : ""}) ` +
            `lr ${s.lr.toPrecision(3)} ${s.imagesPerSec.toFixed(1)} img/s`,
          "train",
        );
      },
      log: ctx.log,
    }).finally(() => compiles.stop());
    if (data.skipped > 0) ctx.log(`${data.skipped} images could not be decoded and were skipped (onBadImage: skip)`);
    const summary = lossSummary(await Deno.readTextFile(r.trainLog));
    if (summary.stepsWithoutMask > 0) {
      ctx.log(`${summary.stepsWithoutMask} of ${summary.steps} steps had no foreground RoI with a mask: mask loss 0`);
    }
    const latest = JSON.parse(await Deno.readTextFile(join(r.checkpointDir, "latest.json")));
    const weights = join(ctx.outDir, MODEL_WEIGHTS);
    if (work !== ctx.outDir) {
      await Deno.copyFile(join(r.checkpointDir, latest.checkpoint, "weights.safetensors"), weights);
      await Deno.copyFile(r.trainLog, join(ctx.outDir, "train_log.jsonl"));
      await Deno.copyFile(r.gradStats, join(ctx.outDir, "grad_stats.json"));
    } else {
      await Deno.copyFile(join(r.checkpointDir, latest.checkpoint, "weights.safetensors"), weights);
    }
    await writeModelCard(ctx.outDir, {
      preset: p.model,
      config,
      loss: p.loss,
      lossParams,
      numClasses,
      categoryIds: Array.from(dataset.categories.ids),
      categoryNames: dataset.categories.names,
      input: { shortSide: Math.max(...p.shortSides), maxSize: p.maxSize },
      lossState: await loss.state(),
      training: {
        steps: summary.steps,
        firstLoss: summary.first,
        lastLoss: summary.last,
        masks: trainMasks,
        annotationsWithoutMask: masks?.without ?? 0,
        stepsWithoutMask: summary.stepsWithoutMask,
      },
    });
    loss.dispose();
    r.detector.params.dispose();
    return {
      model: ctx.outDir,
      weights,
      trainLog: join(ctx.outDir, "train_log.jsonl"),
      gradStats: join(ctx.outDir, "grad_stats.json"),
      steps: r.steps,
      loss: p.loss,
    };
  },
});
