/**
 * Training speed of the detector presets on the synthetic set: images per
 * second over the steady steps of a short run.
 *
 *   deno run -A bench/train_speed.ts <synthetic dir> [preset=tiny] [steps=20] [batch=4] [loss=eqlv2]
 *
 * The synthetic dir comes from `deno task data synth --preset default --out <dir>`.
 * With PROFILE=1 every dispatch is timed by timestamp queries (one pass each, which
 * adds its own overhead; the first ~2000 dispatches only) and the GPU time per
 * kernel name per step is printed; with STEPS=1 every step's time is printed as it ends.
 */
import { join } from "node:path";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { createLoss } from "../losses/registry.ts";
import { detectorConfig } from "../model/config.ts";
import { LrSchedule } from "../model/schedule.ts";
import { trainDetector } from "../model/trainer.ts";
import { trainingData } from "../model/training_data.ts";
import { initTensors } from "../tensor/tensor.ts";
import { describeAdapter } from "../gpu/device.ts";

const [dir, preset = "tiny", steps = "20", batch = "4", lossName = "eqlv2"] = Deno.args;
const rt = await initTensors();
const { dataset } = await ingestDataset(join(dir, "annotations", "lvis_v1_train.json"), { polygons: false });
const out = await Deno.makeTempDir({ prefix: "tailor_speed_" });
const times: number[] = [];
const profile = Deno.env.get("PROFILE") === "1";
const printSteps = Boolean(Deno.env.get("STEPS")), verbose = Boolean(Deno.env.get("VERBOSE"));
let r!: Awaited<ReturnType<typeof trainDetector>>;
const train = async () => {
  r = await trainDetector({
    config: detectorConfig(preset),
    loss: createLoss(lossName, {}, { numClasses: dataset.categories.count }),
    data: trainingData({ dataset, seed: 1, repeatThreshold: 0.001 }),
    outDir: out,
    iterations: Number(steps),
    batchSize: Number(batch),
    lr: LrSchedule.parse({ base: 0.02 }),
    momentum: 0.9,
    weightDecay: 1e-4,
    clipNorm: 10,
    seed: 1,
    checkpointEvery: 1000,
    statsEvery: 1000,
    onStep: (s) => {
      const seconds = Number(batch) / s.imagesPerSec;
      times.push(seconds);
      if (printSteps) console.log("step", s.step, (1000 * seconds).toFixed(0));
      if (verbose) console.log(s.step, (performance.now() / 1000).toFixed(1), rt.pipelineCount);
    },
  });
};
const kernelTimes = profile ? await rt.timeKernels(train) : (await train(), null);
const steady = times.slice(3).sort((a, b) => a - b);
const median = steady[steady.length >> 1];
console.log(
  `${describeAdapter(rt.report)}\npreset=${preset} batch=${batch} loss=${lossName} steps=${r.steps} ` +
    `ms/step=${(median * 1000).toFixed(0)} images/s=${(Number(batch) / median).toFixed(2)}`,
);
if (verbose) console.log(rt.pipelineCounts());
if (kernelTimes) {
  const rows = [...kernelTimes].sort((a, b) => b[1].ms - a[1].ms);
  // Steps inside the timed dispatches: every classification loss ends its step with one loss_sum.
  const timed = Math.max(1, kernelTimes.get("loss_sum")?.count ?? 0);
  for (const [name, t] of rows) {
    console.log(`${name.padEnd(30)} ${(t.ms / timed).toFixed(1).padStart(7)} ms/step ${t.count} dispatches`);
  }
  const total = rows.reduce((a, [, t]) => a + t.ms, 0);
  console.log(`kernels in all: ${(total / timed).toFixed(1)} ms/step over the ${timed} steps timed`);
}
await Deno.remove(out, { recursive: true });
