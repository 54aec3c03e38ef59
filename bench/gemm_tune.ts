/**
 * Tune the register-blocked GEMM for an adapter: times one square GEMM of size n for each
 * parameter set given (block rows tm, block columns tn, invocations wgx x wgy per workgroup),
 * best of 3 rounds of 4 queued GEMMs, with the first dispatch (compilation) shown apart.
 * Operands come from storage buffers unless a set says `"textures": true` (the path that
 * `matmul` takes for large products, see kernels/gemm_texture.ts).
 *
 *   deno run -A bench/gemm_tune.ts 1024 '[{}, {"tm": 48, "tn": 32}, {"wgx": 16}, {"textures": true}]'
 *
 * @module
 */
import { gemm, type GemmParams } from "../kernels/gemm.ts";
import { initTensors } from "../tensor/tensor.ts";
const r = await initTensors();
const n = Number(Deno.args[0] ?? 1024);
const data = () => Float32Array.from({ length: n * n }, () => Math.random() - 0.5);
const bufs: [GPUBuffer, GPUBuffer, GPUBuffer] = [r.upload(data()), r.upload(data()), r.buffer(n * n * 4)];
const cfgs: (Partial<GemmParams> & { textures?: boolean })[] = JSON.parse(Deno.args[1] ?? "[{}]");
for (const { textures = false, ...c } of cfgs) {
  const p: GemmParams = { batch: 1, M: n, N: n, K: n, transA: false, transB: false, ...c };
  const t0 = performance.now();
  gemm(r, p, bufs, { textures });
  await r.sync();
  const compile = performance.now() - t0;
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    for (let k = 0; k < 4; k++) gemm(r, p, bufs, { textures });
    await r.sync();
    best = Math.min(best, (performance.now() - t) / 4);
  }
  console.log(
    JSON.stringify(textures ? { ...c, textures } : c),
    `${best.toFixed(1)} ms ${(2 * n ** 3 / best / 1e6).toFixed(1)} GFLOP/s (first ${compile.toFixed(0)} ms)`,
  );
}
