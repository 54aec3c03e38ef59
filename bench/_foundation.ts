/**
 * Measurements of the foundation benchmark, shared by `foundation_bench.ts`
 * (Deno.bench) and `foundation.ts` (a table for BENCHMARKS.md): GEMM
 * throughput and the tiny-CNN training step, for tailor and for jax-js.
 *
 * Deno's `mapAsync` and `onSubmittedWorkDone` sleep 10 ms after the GPU is
 * done (ext/webgpu polls, then sleeps before checking), so every wait costs
 * at least 10 ms. Throughput figures therefore queue several GEMMs or steps
 * and wait once, as a training loop that logs every few steps does;
 * latency figures wait after every step.
 */
import { Rng } from "../core/rng.ts";
import { gemm, type GemmParams } from "../kernels/gemm.ts";
import { SGD } from "../tensor/optim.ts";
import { initTensors, rt, Tensor } from "../tensor/tensor.ts";
import { BENCH_CNN, tinyCnnLossAndGrad, tinyCnnParams } from "./_tiny_cnn.ts";

/**
 * One square GEMM of size n, ready to run; `run(reps)` queues it `reps` times and waits once.
 * `textures` forces the operands through textures (true) or storage buffers (false); default: `gemm`'s choice.
 */
export async function gemmCase(
  n: number,
  textures?: boolean,
): Promise<{ flop: number; run(reps?: number): Promise<void>; dispose(): void }> {
  const r = await initTensors();
  const rng = new Rng(n);
  const data = () => Float32Array.from({ length: n * n }, () => rng.uniform(-1, 1));
  const bufs: [GPUBuffer, GPUBuffer, GPUBuffer] = [r.upload(data()), r.upload(data()), r.buffer(n * n * 4)];
  const p: GemmParams = { batch: 1, M: n, N: n, K: n, transA: false, transB: false };
  gemm(r, p, bufs, { textures });
  await r.sync();
  return {
    flop: 2 * n ** 3,
    async run(reps = 1) {
      for (let i = 0; i < reps; i++) gemm(r, p, bufs, { textures });
      await r.sync();
    },
    dispose: () => bufs.forEach((b) => r.release(b)),
  };
}

/** A tiny-CNN trainer; `steps(n)` runs n SGD steps on a fixed batch, waits once, and resolves to the last loss. */
export interface CnnTrainer {
  steps(n: number): Promise<number>;
  dispose(): void;
}

/** The tailor tiny-CNN trainer (BENCH_CNN, plain SGD with lr 0.05). */
export async function tailorTinyCnn(): Promise<CnnTrainer> {
  await initTensors();
  const s = BENCH_CNN;
  const rng = new Rng(7);
  const params = tinyCnnParams(s, rng);
  const pixels = Float32Array.from({ length: s.batch * 3 * s.size * s.size }, () => rng.uniform(-1, 1));
  const x = Tensor.from(pixels, [s.batch, 3, s.size, s.size]).keep();
  const oneHot = Float32Array.from(
    { length: s.batch * s.classes },
    (_, i) => i % s.classes === (i / s.classes | 0) ? 1 : 0,
  );
  const y = Tensor.from(oneHot, [s.batch, s.classes]).keep();
  const opt = new SGD(params, { lr: 0.05 });
  return {
    async steps(n) {
      let loss: Tensor | null = null;
      for (let i = 0; i < n; i++) {
        loss?.dispose();
        loss = tinyCnnLossAndGrad(params, x, y);
        opt.step();
        opt.zeroGrad();
      }
      const v = await loss!.item();
      loss!.dispose();
      return v;
    },
    dispose() {
      opt.dispose();
      for (const t of [...params, x, y]) t.dispose();
      rt().pool.trim();
    },
  };
}
