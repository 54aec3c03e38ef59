/**
 * A loss step at LVIS v1 scale, N = 1024 rows (2 images x 512 RoIs), C = 1203
 * categories + background: forward + gradient + statistics + state update,
 * against a buffer copy of the logits (the adapter's copy bandwidth) in the
 * same run. `deno bench` times each; the summary printed first gives GB/s.
 *
 *   deno bench --allow-read --allow-env --allow-ffi --allow-sys bench/loss_bench.ts
 */
import { createLoss } from "../losses/registry.ts";
import { initTensors, Tensor } from "../tensor/tensor.ts";
import { Rng } from "../core/rng.ts";
import type { ClassificationLoss } from "../losses/loss.ts";
import { mapRaw } from "../tensor/ops.ts";
import { defineKernel, grid1d } from "../kernels/kernel.ts";

const N = 1024, C = 1203;
const rt = await initTensors();
const rng = new Rng(42);
const labels = Int32Array.from({ length: N }, () => rng.float() < 0.75 ? C : rng.int(C));
const labelsT = Tensor.from(labels, [N], "i32").keep();

function setup(name: string, params: Record<string, unknown>) {
  const loss = createLoss(name, params, { numClasses: C });
  const logits = Tensor.from(Float32Array.from({ length: N * loss.columns }, () => rng.uniform(-8, 4)), [
    N,
    loss.columns,
  ]).keep();
  return { loss, logits };
}

function step(loss: ClassificationLoss, logits: Tensor): void {
  // BAGS samples "others" rows on the host, so its step takes host labels (and uploads its inputs).
  const out = loss.forward(logits, loss.name === "bags" ? labels : labelsT);
  out.loss.dispose();
  out.grad.dispose();
}

/** Bytes a step must move at least: logits read, gradient written, labels read once. */
const minBytes = (cols: number) => 2 * 4 * N * cols + 4 * N;

// Column counts: C + 1 = 1204 (whole vec4s per row) for eqlv2, bce with a background channel and ce;
// C = 1203 for bce and eql (vec4 blocks of 4 rows); C + 2 = 1205 for seesaw; C + 6 = 1209 for bags (four
// groups over LVIS-like instance counts, 1 to ~50000).
const cases = {
  eqlv2: setup("eqlv2", {}),
  "bce (C + 1)": setup("bce", { background_channel: true }),
  "bce (C)": setup("bce", {}),
  eql: setup("eql", { image_counts: Array.from({ length: C }, (_, j) => 1 + j), num_images: 100000 }),
  ce: setup("ce", {}),
  seesaw: setup("seesaw", {}),
  bags: setup("bags", { instance_counts: Array.from({ length: C }, (_, j) => Math.round(Math.exp(j / C * 10.8))) }),
};
const copyDst = rt.buffer(4 * N * (C + 1));
const copy = () => rt.copy(cases.eqlv2.logits.buffer, copyDst, 4 * N * (C + 1));
// The same bytes through a compute shader (y = x): what any kernel can reach on this adapter.
const shaderCopy = () => mapRaw("x0", [cases.eqlv2.logits]).dispose();

async function secondsPer(fn: () => void, reps = 30): Promise<number> {
  for (let i = 0; i < 3; i++) fn();
  await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  await rt.sync();
  return (performance.now() - t0) / 1000 / reps;
}

const copyS = await secondsPer(copy);
const copyGBs = 2 * 4 * N * (C + 1) / copyS / 1e9;
console.log(`adapter: ${rt.report ? JSON.stringify(rt.report).slice(0, 120) : "?"}`);
console.log(
  `copy ${(4 * N * (C + 1) / 1e6).toFixed(2)} MB: ${(copyS * 1e3).toFixed(3)} ms, ${
    copyGBs.toFixed(2)
  } GB/s (read + write)`,
);
// The best-case shader copy: one vec4 per invocation.
const vec4CopyKernel = defineKernel<{ n4: number }>({
  name: "bench_vec4_copy",
  wgsl: ({ n4 }) =>
    `@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> Y: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < ${n4}u) { Y[g.x] = X[g.x]; } }`,
  dispatch: ({ n4 }) => grid1d(n4, 64),
});
const vec4Copy = () => rt.dispatch(vec4CopyKernel, { n4: N * (C + 1) / 4 }, [cases.eqlv2.logits.buffer, copyDst]);
const scalarS = await secondsPer(shaderCopy);
const vec4S = await secondsPer(vec4Copy);
const shaderS = Math.min(scalarS, vec4S);
const shaderGBs = 2 * 4 * N * (C + 1) / shaderS / 1e9;
console.log(
  `shader copy y = x: ${(scalarS * 1e3).toFixed(3)} ms scalar (map), ${(vec4S * 1e3).toFixed(3)} ms vec4; ` +
    `best ${shaderGBs.toFixed(2)} GB/s`,
);
for (const [name, { loss, logits }] of Object.entries(cases)) {
  const s = await secondsPer(() => step(loss, logits));
  const gbs = minBytes(loss.columns) / s / 1e9;
  console.log(
    `${name} step: ${(s * 1e3).toFixed(3)} ms, ${gbs.toFixed(2)} GB/s = ${
      (100 * gbs / copyGBs).toFixed(0)
    }% of copy, ` +
      `${(100 * gbs / shaderGBs).toFixed(0)}% of shader copy`,
  );
}

Deno.bench({ name: "copy of the logits (N x (C+1) f32)", group: "loss", baseline: true }, async () => {
  copy();
  await rt.sync();
});
Deno.bench({ name: "shader copy of the logits (map y = x)", group: "loss" }, async () => {
  shaderCopy();
  await rt.sync();
});
for (const [name, { loss, logits }] of Object.entries(cases)) {
  Deno.bench({ name: `${name} loss step N=${N} C=${C}`, group: "loss" }, async () => {
    step(loss, logits);
    await rt.sync();
  });
}
