/**
 * RoIAlign forward and backward, and NMS, on detector-sized inputs.
 * Run: deno bench --allow-read --allow-write=/tmp,./.cache --allow-env --allow-ffi --allow-sys bench/roi_align_bench.ts
 */
import { Rng } from "../core/rng.ts";
import { initTensors, Tensor } from "../tensor/tensor.ts";
import { roiAlign, roiAlignGrad, roiAlignParams } from "../model/roi_align.ts";
import { nms } from "../model/nms.ts";

const rt = await initTensors();
const rng = new Rng(7);

function randomRois(n: number, batch: number, img: number): Float32Array {
  const out = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) {
    const w = rng.uniform(0.05, 0.6) * img, h = rng.uniform(0.05, 0.6) * img;
    const x = rng.uniform(0, img - w), y = rng.uniform(0, img - h);
    out.set([i % batch, x, y, x + w, y + h], 5 * i);
  }
  return out;
}

const shapes = [
  // A detectron2-like box head input: 2 images, 512 RoIs each, stride 16 on 800 px.
  { name: "B2 C256 50x50 R1024", B: 2, C: 256, H: 50, W: 50, R: 1024, stride: 16 },
  // The "small" preset: batch 8 of 128 px images, stride-8 features, 128 RoIs per image.
  { name: "B8 C96 16x16 R1024", B: 8, C: 96, H: 16, W: 16, R: 1024, stride: 8 },
];

for (const s of shapes) {
  const x = Tensor.from(Float32Array.from({ length: s.B * s.C * s.H * s.W }, () => rng.uniform(-1, 1)), [
    s.B,
    s.C,
    s.H,
    s.W,
  ]).keep();
  const rois = Tensor.from(randomRois(s.R, s.B, s.H * s.stride), [s.R, 5]).keep();
  const opts = { outputSize: 7, spatialScale: 1 / s.stride, samplingRatio: 2 };
  const p = roiAlignParams(x, rois, opts);
  const g = Tensor.from(Float32Array.from({ length: s.R * s.C * 49 }, () => rng.uniform(-1, 1)), [s.R, s.C, 7, 7])
    .keep();
  Deno.bench(`roiAlign forward ${s.name}`, { group: s.name, baseline: true }, async () => {
    roiAlign(x, rois, opts).dispose();
    await rt.sync();
  });
  Deno.bench(`roiAlign backward ${s.name}`, { group: s.name }, async () => {
    roiAlignGrad(g, rois, p).dispose();
    await rt.sync();
  });
}

function randomBoxes(n: number): Float32Array {
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = rng.uniform(0, 700), y = rng.uniform(0, 700);
    boxes.set([x, y, x + rng.uniform(10, 200), y + rng.uniform(10, 200)], 4 * i);
  }
  return boxes;
}

for (const n of [600, 2000, 12000]) {
  const boxes = randomBoxes(n), scores = Float32Array.from({ length: n }, () => rng.float());
  Deno.bench(`nms ${n} boxes at IoU 0.7`, { group: "nms" }, async () => {
    await nms(boxes, scores, { iouThreshold: 0.7, maxKeep: 1000 });
  });
}

// Test-time class-wise NMS: 200 proposals x 1203 LVIS classes as candidates.
{
  const n = 200 * 1203;
  const boxes = randomBoxes(n), scores = Float32Array.from({ length: n }, () => rng.float());
  const groups = Int32Array.from({ length: n }, (_, i) => i % 1203);
  Deno.bench(`nms ${n} boxes in 1203 classes at IoU 0.5`, { group: "nms" }, async () => {
    await nms(boxes, scores, { iouThreshold: 0.5, groups, maxKeep: 300 });
  });
}
