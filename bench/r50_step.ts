/**
 * The R50-FPN Mask R-CNN (`r50_fpn`) against PyTorch 1.13 on the CPU, same
 * model and weights (the parity fixture's), same inputs, in one run: a training step (batch 2 at 512 x 512 by
 * default) and inference (one image at 800 x 1333), each timed by tailor
 * and by bench/torch_r50_step.py (2 threads) in alternating rounds, with
 * tailor's dispatches, copies, submits and read-backs per step and both
 * sides' peak resident memory (llvmpipe's GPU memory is host memory).
 *
 *   deno run -A bench/r50_step.ts [train|infer|both=both] [rounds=2]
 *   TRAIN=2x512x512 INFER=1x800x1333 STEPS=3 SIDES=torch,tailor deno run -A bench/r50_step.ts
 *
 * Prints one table row per side and mode; BENCHMARKS.md records them.
 */
import { Rng } from "../core/rng.ts";
import { describeAdapter } from "../gpu/device.ts";
import { createLoss } from "../losses/registry.ts";
import { detectorConfig } from "../model/config.ts";
import { Detector, type ImageBatch, type ImageTargets } from "../model/detector.ts";
import { backward } from "../tensor/ops.ts";
import { SGD } from "../tensor/optim.ts";
import { initTensors, tidyAsync } from "../tensor/tensor.ts";
import { ellipseMasks } from "../tests/model/_ellipse_masks.ts";
import { fixtureWeight } from "../tests/model/_torchvision_weights.ts";

const [mode = "both", roundsArg = "2"] = Deno.args;
const rounds = Number(roundsArg), steps = Number(Deno.env.get("STEPS") ?? 3);
const shape = (s: string) => s.split("x").map(Number) as [number, number, number];
const train = shape(Deno.env.get("TRAIN") ?? "2x512x512"), infer = shape(Deno.env.get("INFER") ?? "1x800x1333");
const only = (Deno.env.get("SIDES") ?? "torch,tailor").split(",");
const rt = await initTensors();
const C = 5;

/** Boxes as fractions of the image, as bench/torch_r50_step.py draws them. */
const BOXES = [[0.05, 0.1, 0.4, 0.55], [0.3, 0.3, 0.65, 0.85], [0.5, 0.05, 0.9, 0.45], [0.1, 0.6, 0.3, 0.95], [
  0.6,
  0.5,
  0.95,
  0.75,
], [0.7, 0.8, 0.85, 0.95]];

/** Six boxes per image with inscribed elliptical masks (torchvision's classes 1, 3, 5, 2, 4, 1). */
function targetsFor(b: number, h: number, w: number): ImageTargets {
  const boxes = Float32Array.from(
    BOXES.flatMap(([x1, y1, x2, y2]) => [x1 * w + 5 * b, y1 * h, x2 * w + 5 * b, y2 * h]),
  );
  return { boxes, labels: Int32Array.of(0, 2, 4, 1, 3, 0), masks: ellipseMasks(boxes) };
}

function batchOf([B, H, W]: [number, number, number]): ImageBatch {
  const rng = new Rng(3);
  return {
    images: Float32Array.from({ length: B * 3 * H * W }, () => rng.uniform(-2, 2)),
    batch: B,
    height: H,
    width: W,
    sizes: Array.from({ length: B }, () => ({ height: H, width: W })),
  };
}

const peakRssMb = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

async function tailor(which: "train" | "infer"): Promise<Record<string, unknown>> {
  const [B, H, W] = which === "train" ? train : infer;
  const det = new Detector(detectorConfig("r50_fpn"), C, C + 1, new Rng(1), 0, { loss: "ce" });
  det.build();
  // The parity fixture's weights, as the PyTorch side uses: both compute the same function.
  for (const [name, t] of det.params.entries()) det.params.write(name, fixtureWeight(name, t.shape));
  const loss = createLoss("ce", {}, { numClasses: C });
  const batch = batchOf([B, H, W]);
  const targets = Array.from({ length: B }, (_, b) => targetsFor(b, H, W));
  // Learning rate 0, as on the PyTorch side: every step does the same work.
  const opt = new SGD(det.params.trainable().map(([, t]) => t), { lr: 0, momentum: 0.9, weightDecay: 1e-4 });
  const times: number[] = [];
  let counts: Record<string, number> = {};
  let positives = 0;
  for (let s = 0; s <= steps; s++) {
    const before = { ...rt.counters };
    rt.pool.resetPeak();
    const t0 = performance.now();
    await tidyAsync(async () => {
      if (which === "infer") return void await det.predict(batch, loss);
      const l = await det.losses(batch, targets, loss, new Rng(s));
      positives = Math.round(l.fgFraction * B * det.cfg.roi.batchPerImage);
      backward(l.total, undefined, { releaseGraph: true });
      opt.step(0);
      opt.zeroGrad();
      await l.total.item();
    });
    times.push(performance.now() - t0);
    counts = Object.fromEntries(Object.entries(rt.counters).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
    counts.gpu_peak_mb = Math.round(rt.memory.peakInUseBytes / 2 ** 20);
    counts.gpu_allocated_mb = Math.round(rt.memory.allocatedBytes / 2 ** 20);
    counts.gpu_evicted_mb = Math.round(rt.memory.evictedBytes / 2 ** 20);
  }
  det.params.dispose();
  opt.dispose?.();
  loss.dispose();
  const steady = times.slice(1).sort((a, b) => a - b);
  return {
    ms: Math.round(steady[steady.length >> 1]),
    all_ms: times.map(Math.round),
    ...(which === "train" ? { positives } : {}),
    ...counts,
    peak_rss_mb: peakRssMb(),
  };
}

async function torch(which: "train" | "infer"): Promise<Record<string, unknown>> {
  const [B, H, W] = which === "train" ? train : infer;
  const script = new URL("./torch_r50_step.py", import.meta.url).pathname;
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [script, which, `${B}`, `${H}`, `${W}`, `${steps + 1}`],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${script} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

console.log(describeAdapter(rt.report));
const modes = mode === "both" ? ["train", "infer"] as const : [mode as "train" | "infer"];
for (const m of modes) {
  for (let r = 0; r < rounds; r++) {
    const load = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
    // Alternate which side goes first, so drift in the machine's speed falls on both.
    const sides = (r % 2 === 0 ? [torch, tailor] : [tailor, torch]).filter((f) => only.includes(f.name));
    for (const side of sides) {
      const res = await side(m);
      console.log(
        JSON.stringify({ side: side.name, mode: m, round: r, load, shape: m === "train" ? train : infer, ...res }),
      );
    }
  }
}
