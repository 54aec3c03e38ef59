/**
 * Convolution forward + backward throughput on the benchmark shape of
 * issue 2: batch 8, 64 -> 64 channels, 64 x 64, 3 x 3, stride 1, pad 1.
 * Prints GFLOP/s (2 * N * Cout * OH * OW * Cin * KH * KW per pass, three
 * passes: forward, input gradient, weight gradient) from the measured
 * wall time, the GPU time of each kernel, and, because llvmpipe shares the
 * CPU with everything else on the machine, the figure from the process's
 * CPU time scaled to all cores (what an otherwise idle machine would give).
 *
 * Run: deno bench --allow-read --allow-env --allow-ffi --allow-sys bench/conv_bench.ts
 */
import { initTensors, Tensor, tidy } from "../tensor/tensor.ts";
import { backward } from "../tensor/ops.ts";
import { conv2d } from "../tensor/ops_conv.ts";
import { Rng } from "../core/rng.ts";
import process from "node:process";
import { availableParallelism } from "node:os";

const [N, C, K, H, W, KS] = [8, 64, 64, 64, 64, 3];
const FLOP_PER_PASS = 2 * N * K * H * W * C * KS * KS;

const r = await initTensors();
const rng = new Rng(7);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
const x = Tensor.from(rand(N * C * H * W), [N, C, H, W]).keep().requireGrad();
const w = Tensor.from(rand(K * C * KS * KS), [K, C, KS, KS]).keep().requireGrad();
const b = Tensor.from(rand(K), [K]).keep().requireGrad();

function step(): void {
  tidy(() => {
    backward(conv2d(x, w, { bias: b, padding: 1 }));
  });
  for (const t of [x, w, b]) {
    t.grad?.dispose();
    t.grad = null;
  }
}

// Warm-up compiles every pipeline.
step();
await r.sync();

Deno.bench("conv2d 8x64x64x64 3x3 forward+backward", async (bench) => {
  bench.start();
  step();
  await r.sync();
  bench.end();
});

const reps = 3;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < reps; i++) step();
await r.sync();
const ms = (performance.now() - t0) / reps;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000 / reps;
const cores = availableParallelism();
const times = await r.timeKernels(() => step());
const kernels = times ? [...times].map(([k, v]) => `${k} ${v.ms.toFixed(1)} ms`).join(", ") : "no timestamps";
const gflops = (t: number) => (3 * FLOP_PER_PASS / t / 1e6).toFixed(1);
console.log(
  `conv2d fwd+bwd ${ms.toFixed(1)} ms/step = ${gflops(ms)} GFLOP/s wall (${r.report.description}); ` +
    `CPU ${cpuMs.toFixed(0)} ms/step = ${gflops(cpuMs / cores)} GFLOP/s on ${cores} idle cores; per kernel: ${kernels}`,
);
