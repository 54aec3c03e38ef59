/**
 * Foundation benchmark for `deno task bench`: GEMM 512^3 and 1024^3, and
 * the tiny-CNN training step in tailor and in jax-js (both on WebGPU, same
 * process). Each iteration queues 4 GEMMs or 4 steps and waits once, since
 * every wait in Deno costs a fixed 10 ms (see _foundation.ts); the summary
 * printed at the end divides accordingly and gives GFLOP/s.
 */
import { type CnnTrainer, gemmCase, tailorTinyCnn } from "./_foundation.ts";
import { createJaxTinyCnn } from "./jax_tiny_cnn.ts";

const PER_ITER = 4;
const WARMUP = 2;
const times = new Map<string, number[]>();
const flops = new Map<string, number>();

/** End the measured span and keep its duration per GEMM or step for the summary. */
function _timed(name: string, b: Deno.BenchContext, t0: number): void {
  b.end();
  const list = times.get(name) ?? [];
  list.push((performance.now() - t0) / PER_ITER);
  times.set(name, list);
}

for (const n of [512, 1024]) {
  const name = `gemm ${n}^3 x${PER_ITER}`;
  let c: Awaited<ReturnType<typeof gemmCase>> | null = null;
  Deno.bench({ name, n: n === 512 ? 10 : 4, warmup: WARMUP }, async (b) => {
    c ??= await gemmCase(n);
    flops.set(name, c.flop);
    b.start();
    const t0 = performance.now();
    await c.run(PER_ITER);
    _timed(name, b, t0);
  });
}

function cnnBench(name: string, make: () => Promise<Pick<CnnTrainer, "steps">>, n: number, baseline = false): void {
  let net: Pick<CnnTrainer, "steps"> | null = null;
  Deno.bench({ name, group: "tiny cnn", baseline, n, warmup: WARMUP }, async (b) => {
    net ??= await make();
    b.start();
    const t0 = performance.now();
    await net.steps(PER_ITER);
    _timed(name, b, t0);
  });
}
cnnBench(`tiny CNN x${PER_ITER} steps (tailor)`, tailorTinyCnn, 8, true);
cnnBench(`tiny CNN x${PER_ITER} steps (jax-js)`, createJaxTinyCnn, 3);

globalThis.addEventListener("unload", () => {
  const median = (a: number[]) => {
    const m = a.length > WARMUP ? a.slice(WARMUP) : a;
    return [...m].sort((p, q) => p - q)[Math.floor(m.length / 2)];
  };
  console.log("\nfoundation summary (median per GEMM or per step):");
  for (const [name, list] of times) {
    const ms = median(list);
    const f = flops.get(name);
    console.log(
      `  ${name.replace(/ x\d+/, "")}: ${ms.toFixed(1)} ms${f ? `, ${(f / ms / 1e6).toFixed(1)} GFLOP/s` : ""}`,
    );
  }
  const t = times.get(`tiny CNN x${PER_ITER} steps (tailor)`), j = times.get(`tiny CNN x${PER_ITER} steps (jax-js)`);
  if (t && j) console.log(`  tailor is ${(median(j) / median(t)).toFixed(1)}x faster than jax-js per step`);
});
