/**
 * Fixed costs of the WebGPU runtime on this adapter, which set how many
 * dispatches, submits and read-backs a training step can afford: a dispatch of
 * a near-empty kernel queued with others, a dispatch submitted on its own, and
 * a read-back (`mapAsync`) or `onSubmittedWorkDone` of already finished work.
 * Best of 3 rounds each.
 *
 *   deno run --allow-read --allow-env --allow-ffi --allow-sys bench/runtime_overheads.ts
 *
 * @module
 */
import { initTensors } from "../tensor/tensor.ts";
import { defineKernel } from "../kernels/kernel.ts";
import { describeAdapter } from "../gpu/device.ts";

const rt = await initTensors();
const buf = rt.buffer(4096);
const bump = defineKernel<{ groups: number }>({
  name: "bench_bump",
  wgsl: () =>
    `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) { let i = g.x % 1024u; Y[i] = Y[i] + 1.0; }`,
  dispatch: ({ groups }) => [groups, 1, 1],
});

async function bestMs(n: number, fn: () => void | Promise<void>): Promise<number> {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    await rt.sync();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn();
    await rt.sync();
    best = Math.min(best, (performance.now() - t0) / n);
  }
  return best;
}

console.log(describeAdapter(rt.report));
rt.dispatch(bump, { groups: 1 }, [buf]);
await rt.sync();
for (const groups of [1, 64]) {
  const queued = await bestMs(1000, () => rt.dispatch(bump, { groups }, [buf]));
  const submitted = await bestMs(200, () => {
    rt.dispatch(bump, { groups }, [buf]);
    rt.flush();
  });
  console.log(
    `${groups} workgroup(s) of 64: ${(queued * 1000).toFixed(0)} us per queued dispatch, ` +
      `${(submitted * 1000).toFixed(0)} us per dispatch submitted alone`,
  );
}
const readBack = await bestMs(20, async () => {
  await rt.read(buf, 64);
});
const workDone = await bestMs(20, () => rt.device.queue.onSubmittedWorkDone());
console.log(
  `read-back of 64 bytes: ${readBack.toFixed(2)} ms; onSubmittedWorkDone with nothing pending: ${
    workDone.toFixed(2)
  } ms`,
);
