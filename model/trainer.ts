/**
 * Training loop: sampling, SGD with warm-up and decay, clipping, atomic checkpoints, NaN guard, JSONL
 * log. All randomness of a step derives from (seed, step), so a resumed run repeats the same steps.
 */
import { join } from "node:path";
import { Rng } from "../core/rng.ts";
import { writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { type CheckpointData, loadLatestCheckpoint, saveCheckpoint } from "./checkpoint/training.ts";
import type { DetectorConfig } from "./config.ts";
import { Detector, type ImageBatch, type ImageTargets } from "./detector.ts";
import type { ClassificationLoss, LossState } from "../losses/loss.ts";
import { learningRate, type LrSchedule } from "./schedule.ts";
import { loadCheckpointInto, type LoadScope } from "./checkpoint/load.ts";
import type { NamedArray } from "./checkpoint/safetensors.ts";
import { backward, reshape } from "../tensor/ops.ts";
import { concat } from "../tensor/ops_shape.ts";
import { initTensors, tidyAsync } from "../tensor/tensor.ts";
import { type OptimizerState, SGD } from "../tensor/optim.ts";

export interface TrainingBatch {
  batch: ImageBatch;
  targets: ImageTargets[];
}

/** Where training batches come from (see model/training_data.ts). */
export interface BatchSource {
  numClasses: number;
  /** The image indices of epoch `epoch`, in order (e.g. repeat-factor sampled and shuffled). */
  epochOrder(epoch: number): Uint32Array;
  /** Decoded, augmented batches of `indices` in order; augmentation is drawn from `seed` in visiting order. */
  stream(
    indices: Uint32Array,
    batchSize: number,
    seed: number,
  ): AsyncIterableIterator<TrainingBatch> & { close(): void };
}

export interface TrainOptions {
  config: DetectorConfig;
  loss: ClassificationLoss;
  data: BatchSource;
  outDir: string;
  iterations: number;
  batchSize: number;
  lr: LrSchedule;
  momentum: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  clipNorm: number;
  seed: number;
  checkpointEvery: number;
  /** Log gradient statistics every this many steps. */
  statsEvery: number;
  /** Weights to start from (`.pth` or safetensors) and which parameters they initialise. */
  init?: { weights: string; scope: LoadScope };
  /** Stop after this many steps of this call (for tests of resume); the run stays resumable. */
  stopAfter?: number;
  onStep?: (s: StepLog) => void;
  log?: (line: string) => void;
}

export interface StepLog {
  step: number;
  epoch: number;
  lr: number;
  loss: Record<string, number>;
  fgFraction: number;
  /** With a mask loss: the foreground RoIs it averaged over (0: the batch had no mask to learn from). */
  maskRois?: number;
  imagesPerSec: number;
  /** Per-category accumulated gradient magnitudes, every `statsEvery` steps. */
  gradStats?: { pos_grad: number[]; neg_grad: number[] };
}

export interface TrainResult {
  checkpointDir: string;
  trainLog: string;
  gradStats: string;
  steps: number;
  detector: Detector;
}

/** Sigmoid classifiers start from prior 0.001 as the EQL v2 reference does; softmax ones (0) from zero biases. */
export function classifierPrior(name: string): number {
  return ["ce", "seesaw", "bags"].includes(name) ? 0 : 0.001;
}

const stepSeed = (seed: number, step: number, salt: number) => ((seed * 1000003) ^ (step * 7919 + salt)) >>> 0;

/**
 * The image indices of steps [from, to) of `batchSize` images, epoch after epoch of `data`'s
 * orders (`perEpoch` images each); each epoch's order is drawn once per call.
 */
export function stepImages(data: BatchSource, batchSize: number, perEpoch: number) {
  return (from: number, to: number): Uint32Array => {
    const idx = new Uint32Array((to - from) * batchSize);
    let epoch = -1, order: Uint32Array = new Uint32Array(0);
    for (let i = 0; i < idx.length; i++) {
      const g = from * batchSize + i, e = Math.floor(g / perEpoch);
      if (e !== epoch) order = data.epochOrder(epoch = e);
      idx[i] = order[g % perEpoch];
    }
    return idx;
  };
}

/** What {@link runCheckpointedSteps} needs: the schedule, the data, and the step and checkpoint bodies. */
export interface CheckpointedSteps<R> {
  data: BatchSource;
  batchSize: number;
  iterations: number;
  checkpointEvery: number;
  stopAfter?: number;
  /** The step resumed from (0 for a fresh run). */
  start: number;
  /** One JSON line per step; lines past `start` (from a run that went on past its checkpoint) are dropped. */
  logPath: string;
  /** "training" or "re-training", for errors. */
  what: string;
  streamSeed: (step: number) => number;
  /** One step on its batch; the record is the step's log line. */
  run: (batch: TrainingBatch, step: number, perEpoch: number) => Promise<R>;
  /** Save the state after `step` steps (the log is written just before). */
  checkpoint: (step: number) => Promise<unknown>;
}

/**
 * Steps [start, iterations) epoch after epoch of `data`'s orders, the batches streamed in seeded chunks that end at
 * checkpoint steps, so a resumed run reopens the stream an uninterrupted one did. Returns the last step done.
 */
export async function runCheckpointedSteps<R extends { step: number }>(o: CheckpointedSteps<R>): Promise<number> {
  let logLines: string[] = [];
  try {
    logLines = (await Deno.readTextFile(o.logPath)).split("\n").filter((l) => l && JSON.parse(l).step <= o.start);
  } catch { /* no log yet */ }
  const perEpoch = o.data.epochOrder(0).length;
  if (perEpoch === 0) throw new InputError(`The ${o.what} set has no images with annotations`);
  const imagesOf = stepImages(o.data, o.batchSize, perEpoch);
  let last = o.start;
  let stream: ReturnType<BatchSource["stream"]> | null = null;
  try {
    for (let step = o.start; step < o.iterations; step++) {
      if (o.stopAfter !== undefined && step - o.start >= o.stopAfter) break;
      if (step % o.checkpointEvery === 0 || !stream) {
        stream?.close();
        const end = Math.min(o.iterations, (Math.floor(step / o.checkpointEvery) + 1) * o.checkpointEvery);
        stream = o.data.stream(imagesOf(step, end), o.batchSize, o.streamSeed(step));
      }
      const next = await stream.next();
      if (next.done) {
        throw new InputError(
          `The ${o.what} batch stream ended early at step ${step}: every image of a batch was undecodable and ` +
            `skipped (onBadImage: "skip"); fix or remove those images`,
        );
      }
      logLines.push(JSON.stringify(await o.run(next.value, step, perEpoch)));
      last = step + 1;
      if (last % o.checkpointEvery === 0 || last === o.iterations) {
        await writeFileAtomic(o.logPath, logLines.join("\n") + "\n");
        await o.checkpoint(last);
      }
    }
  } finally {
    stream?.close();
  }
  await writeFileAtomic(o.logPath, logLines.length ? logLines.join("\n") + "\n" : "");
  return last;
}

/** Train (or resume) a detector; returns where its outputs are. */
export async function trainDetector(o: TrainOptions): Promise<TrainResult> {
  await initTensors();
  const ckptDir = join(o.outDir, "checkpoints");
  const logPath = join(o.outDir, "train_log.jsonl");
  const statsPath = join(o.outDir, "grad_stats.json");
  await Deno.mkdir(ckptDir, { recursive: true });
  const detector = new Detector(
    o.config,
    o.data.numClasses,
    o.loss.columns,
    new Rng(o.seed),
    classifierPrior(o.loss.name),
    { loss: o.loss.name },
  );
  detector.build();
  // Frozen parameters (frozen stages, frozen batch-norm statistics) are not the optimizer's.
  const params = detector.params.trainable();
  const opt = new SGD(params.map(([, t]) => t), {
    lr: o.lr.base,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    clipNorm: o.clipNorm > 0 ? o.clipNorm : undefined,
  });

  let start = 0;
  const resumed = await loadLatestCheckpoint(ckptDir);
  if (resumed) {
    start = resumed.step;
    loadWeights(detector, resumed.tensors, { source: ckptDir, strict: true });
    opt.importState(optimizerStateFrom(resumed.tensors, resumed.state.optimizer as { step: number }, params));
    o.loss.loadState(resumed.state.loss as LossState);
    o.log?.(`resuming from step ${start}`);
  } else if (o.init) {
    // The detector stores class rows as torchvision does (background first).
    await loadCheckpointInto(detector.params, o.init.weights, {
      scope: o.init.scope,
      numClasses: o.data.numClasses,
      background: "first",
      log: o.log,
    });
  }
  const t0 = performance.now();
  const last = await runCheckpointedSteps({
    ...o,
    start,
    logPath,
    what: "training",
    streamSeed: (step) => stepSeed(o.seed, step, 1),
    async run({ batch, targets }, step, perEpoch) {
      const epoch = Math.floor(step * o.batchSize / perEpoch);
      const lr = learningRate(o.lr, step, o.iterations);
      const tStep = performance.now();
      const values = await tidyAsync(async () => {
        const l = await detector.losses(batch, targets, o.loss, new Rng(stepSeed(o.seed, step, 2)));
        const names = (["total", "rpn_cls", "rpn_box", "cls", "box", "mask"] as const).filter((k) => l[k]);
        const read = await concat(names.map((k) => reshape(l[k]!, [1])), 0).toF32();
        const parts: Record<string, number> = {};
        names.forEach((k, i) => parts[k] = read[i]);
        if (!Number.isFinite(parts.total)) {
          throw new InputError(
            `Training stopped at step ${step}: the loss is ${parts.total} (${JSON.stringify(parts)}); ` +
              `the last good checkpoint is in "${ckptDir}"; lower the learning rate or check the data`,
          );
        }
        // The graph's intermediates are released as the backward pass reaches them.
        backward(l.total, undefined, { releaseGraph: true });
        opt.step(lr);
        opt.zeroGrad();
        return { parts, fg: l.fgFraction, maskRois: l.maskRois };
      });
      const rec: StepLog = {
        step: step + 1,
        epoch,
        lr,
        loss: values.parts,
        fgFraction: values.fg,
        ...(values.maskRois !== undefined ? { maskRois: values.maskRois } : {}),
        imagesPerSec: o.batchSize / ((performance.now() - tStep) / 1000),
      };
      // At intervals the log line also carries the classifier's per-category gradient statistics.
      if ((step + 1) % o.statsEvery === 0 || step + 1 === o.iterations) {
        const s = await o.loss.gradStats();
        rec.gradStats = { pos_grad: Array.from(s.pos_grad), neg_grad: Array.from(s.neg_grad) };
        await writeJsonAtomic(statsPath, { loss: o.loss.name, step: step + 1, ...rec.gradStats });
      }
      o.onStep?.(rec);
      return rec;
    },
    async checkpoint(step) {
      await saveCheckpoint(ckptDir, step, await checkpointData(detector, opt, o.loss, step));
    },
  });
  if (last > start) o.log?.(`trained ${last - start} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { checkpointDir: ckptDir, trainLog: logPath, gradStats: statsPath, steps: last, detector };
}

async function checkpointData(
  det: Detector,
  opt: SGD,
  loss: ClassificationLoss,
  step: number,
): Promise<CheckpointData> {
  const tensors = new Map<string, NamedArray>();
  for (const [name, t] of det.params.entries()) {
    const data = await t.toF32();
    // Never replace a good checkpoint with diverged weights.
    if (!data.every(Number.isFinite)) {
      throw new InputError(
        `Training stopped at step ${step}: the weights of "${name}" are no longer finite; ` +
          "the last good checkpoint is kept; lower the learning rate or enable clipping",
      );
    }
    tensors.set(name, { shape: [...t.shape], data });
  }
  const st = await opt.exportState(), params = det.params.trainable();
  for (const [slot, arrays] of Object.entries(st.slots)) {
    arrays.forEach((data, i) => tensors.set(`optim.${slot}.${params[i][0]}`, { shape: [...params[i][1].shape], data }));
  }
  return { tensors, state: { step, optimizer: { kind: st.kind, step: st.step }, loss: await loss.state() } };
}

function optimizerStateFrom(
  tensors: Map<string, NamedArray>,
  meta: { step: number },
  params: [string, unknown][],
): OptimizerState {
  const slots: Record<string, Float32Array[]> = {};
  for (const name of tensors.keys()) {
    const m = /^optim\.([^.]+)\./.exec(name);
    if (m && !slots[m[1]]) {
      slots[m[1]] = params.map(([p]) => tensors.get(`optim.${m[1]}.${p}`)?.data ?? new Float32Array(0));
    }
  }
  return { kind: "sgd", step: meta.step, slots };
}

/** Copy named weights into the parameters; returns the problems by name and shape (with `strict`, throws). */
export function loadWeights(
  det: Detector,
  weights: Map<string, NamedArray>,
  opts: { source: string; strict: boolean },
): string[] {
  const problems: string[] = [];
  for (const [name, t] of det.params.entries()) {
    const w = weights.get(name);
    if (!w) {
      problems.push(`missing "${name}" [${t.shape}]`);
      continue;
    }
    if (w.shape.join() !== t.shape.join()) {
      problems.push(`"${name}" is [${w.shape}] in the file, [${t.shape}] in the model`);
      continue;
    }
    t.write(w.data);
  }
  det.params.markChanged();
  const known = new Set(det.params.entries().map(([n]) => n));
  for (const [name, w] of weights) {
    if (!known.has(name) && !name.startsWith("optim.")) problems.push(`unknown "${name}" [${w.shape}]`);
  }
  if (problems.length && opts.strict) {
    throw new InputError(`Weights in "${opts.source}" do not match the model: ${problems.join("; ")}`);
  }
  return problems;
}
