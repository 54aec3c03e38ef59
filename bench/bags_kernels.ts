/**
 * Where a BAGS loss step's time goes, next to a softmax cross-entropy step in the same run: GPU
 * milliseconds per kernel by timestamp queries (where the adapter has them) and wall milliseconds
 * per step with the host's sampling and upload, medians over rounds that alternate the two losses.
 * N = 1024 rows, C = 1203 categories, BAGS over four groups of LVIS-like instance counts.
 *
 *   deno run --allow-read --allow-env --allow-ffi --allow-sys bench/bags_kernels.ts [rounds]
 *
 * @module
 */
import { Rng } from "../core/rng.ts";
import { createLoss } from "../losses/registry.ts";
import { initTensors, Tensor } from "../tensor/tensor.ts";

const N = 1024, C = 1203, ROUNDS = Number(Deno.args[0] ?? 12);
const rt = await initTensors();
const rng = new Rng(42);
const labels = Int32Array.from({ length: N }, () => rng.float() < 0.75 ? C : rng.int(C));
const labelsT = Tensor.from(labels, [N], "i32").keep();
const instances = Array.from({ length: C }, (_, j) => Math.round(Math.exp(j / C * 10.8)));
const cases = (["ce", "bags"] as const).map((name) => {
  const loss = createLoss(name, name === "bags" ? { instance_counts: instances } : {}, { numClasses: C });
  const x = Tensor.from(Float32Array.from({ length: N * loss.columns }, () => rng.uniform(-8, 4)), [N, loss.columns])
    .keep();
  // BAGS samples rows on the host, so it takes host labels.
  const step = () => {
    const o = loss.forward(x, name === "bags" ? labels : labelsT);
    o.loss.dispose();
    o.grad.dispose();
  };
  return { name, columns: loss.columns, step, kernels: new Map<string, number[]>(), wall: [] as number[] };
});
for (const c of cases) for (let i = 0; i < 3; i++) c.step();
await rt.sync();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (let r = 0; r < ROUNDS; r++) {
  for (const c of r % 2 ? [...cases].reverse() : cases) {
    const t0 = performance.now();
    c.step();
    await rt.sync();
    c.wall.push(performance.now() - t0);
    const times = await rt.timeKernels(c.step);
    for (const [k, t] of times ?? []) c.kernels.set(k, [...(c.kernels.get(k) ?? []), t.ms]);
  }
}
console.log(`N = ${N}, C = ${C}, ${ROUNDS} alternated rounds, medians; load average ${Deno.loadavg().join(" ")}`);
for (const c of cases) {
  const parts = [...c.kernels].map(([k, v]) => `${k} ${median(v).toFixed(2)}`).join(", ");
  console.log(`${c.name} (${c.columns} columns): ${median(c.wall).toFixed(2)} ms per step; GPU ms: ${parts || "n/a"}`);
}
