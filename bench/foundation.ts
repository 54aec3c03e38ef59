/**
 * The foundation benchmark as one command that prints a Markdown table:
 * `deno run -A bench/foundation.ts`. GEMMs are queued 4 at a time with one
 * wait (best of several rounds); training steps are timed both ways: with a
 * loss read-back after every step (latency, which pays Deno's 10 ms wait)
 * and 10 steps queued with one read-back (throughput). CPU time of the whole
 * process (llvmpipe's threads included) is given beside the wall time as a
 * figure that does not depend on what else the machine is running. Last,
 * both trainers run in alternation (paired rounds of 10 queued steps each),
 * which gives the steadiest ratio on a machine whose speed drifts.
 */
import process from "node:process";
import { gemmCase, tailorTinyCnn } from "./_foundation.ts";
import { type StepTiming, timePaired, timeSteps } from "./_step_timing.ts";
import { createJaxTinyCnn, jaxTinyCnnStepMs } from "./jax_tiny_cnn.ts";
import { rt } from "../tensor/tensor.ts";
import { describeAdapter } from "../gpu/device.ts";

const cpuMs = (c: { user: number; system: number }) => (c.user + c.system) / 1000;
const rows: string[] = [];
for (const [n, textures] of [[512, true], [512, false], [1024, true], [1024, false]] as const) {
  const c = await gemmCase(n, textures);
  const reps = 4;
  let best = Infinity, bestCpu = Infinity;
  for (let i = 0; i < (n === 512 ? 6 : 3); i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await c.run(reps);
    best = Math.min(best, (performance.now() - t0) / reps);
    bestCpu = Math.min(bestCpu, cpuMs(process.cpuUsage(c0)) / reps);
  }
  c.dispose();
  rows.push(
    `| GEMM ${n}^3 (f32, ${textures ? "texture" : "storage-buffer"} operands) | ${best.toFixed(1)} ms | ${
      (c.flop / best / 1e6).toFixed(1)
    } GFLOP/s | ` +
      `${bestCpu.toFixed(1)} CPU-ms = ${(c.flop / bestCpu / 1e6).toFixed(1)} GFLOP per CPU-s |`,
  );
}

const net = await tailorTinyCnn();
const t = await timeSteps(net, 10);
net.dispose();
const j = await jaxTinyCnnStepMs(5);
const cnnRow = (who: string, r: StepTiming) =>
  `| tiny CNN step, ${who} | ${r.latencyMs.toFixed(1)} ms/step with read-back, ${r.throughputMs.toFixed(1)} ms/step ` +
  `queued | loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)} | ${r.cpuMsPerStep.toFixed(1)} CPU-ms/step |`;
rows.push(cnnRow("tailor", t), cnnRow("jax-js 0.1.25", j));
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`Adapter: ${describeAdapter(rt().report)}; load average ${load}\n`);
console.log("| case | time | figure | CPU time |\n|---|---|---|---|");
for (const r of rows) console.log(r);
const x = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
console.log(
  `\ntailor vs jax-js per training step: ${x(j.latencyMs, t.latencyMs)} (read-back each step), ` +
    `${x(j.throughputMs, t.throughputMs)} (queued), ${x(j.cpuMsPerStep, t.cpuMsPerStep)} (CPU time)`,
);

// Paired rounds: both trainers alive, alternating, so that each round's ratio sees one machine speed.
const tailorNet = await tailorTinyCnn();
const jaxNet = await createJaxTinyCnn();
const pr = await timePaired(tailorNet, jaxNet, 10, 10);
tailorNet.dispose();
const med = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];
console.log(
  `tailor vs jax-js in 10 paired rounds of 10 queued steps: ${pr.ratio.toFixed(1)}x (geometric mean; rounds ` +
    `${pr.min.toFixed(1)}-${pr.max.toFixed(1)}x; median step tailor ${med(pr.aMs).toFixed(1)} ms, jax-js ${
      med(pr.bMs).toFixed(1)
    } ms)`,
);
