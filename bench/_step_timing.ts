/**
 * The one timing protocol of the tiny-CNN comparison, shared by tailor's and jax-js's
 * trainers so both sides are measured the same way: two warm-up steps, then `steps` steps
 * with a loss read-back after each (latency), then `steps` steps queued with one read-back
 * (throughput), with the process's CPU time over the queued steps.
 */
import process from "node:process";

/** Something that runs n training steps and resolves to the last loss. */
export interface StepRunner {
  steps(n: number): Promise<number>;
}

export interface StepTiming {
  latencyMs: number;
  throughputMs: number;
  cpuMsPerStep: number;
  firstLoss: number;
  lastLoss: number;
}

export async function timeSteps(net: StepRunner, steps: number): Promise<StepTiming> {
  const firstLoss = await net.steps(1);
  await net.steps(1);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await net.steps(1);
  const latencyMs = (performance.now() - t0) / steps;
  const c0 = process.cpuUsage();
  const t1 = performance.now();
  const lastLoss = await net.steps(steps);
  const throughputMs = (performance.now() - t1) / steps;
  const cpu = process.cpuUsage(c0);
  return { latencyMs, throughputMs, cpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps, firstLoss, lastLoss };
}

/** Per-round step times of two trainers run in alternation, and the ratios b / a. */
export interface PairedTiming {
  aMs: number[];
  bMs: number[];
  /** Geometric mean, least and greatest of the per-round ratios b / a. */
  ratio: number;
  min: number;
  max: number;
}

/**
 * `rounds` rounds of `steps` queued steps (one read-back) of each trainer, one after the
 * other, the order swapped every round. On a machine whose speed drifts (a shared VM) the
 * two halves of a round see nearly the same machine, so the ratio of a round is steadier
 * than a ratio of separate runs; the geometric mean over rounds cancels the order.
 */
export async function timePaired(a: StepRunner, b: StepRunner, rounds: number, steps: number): Promise<PairedTiming> {
  for (const n of [a, b]) await n.steps(2);
  const aMs: number[] = [], bMs: number[] = [];
  const time = async (n: StepRunner) => {
    const t0 = performance.now();
    await n.steps(steps);
    return (performance.now() - t0) / steps;
  };
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      aMs.push(await time(a));
      bMs.push(await time(b));
    } else {
      bMs.push(await time(b));
      aMs.push(await time(a));
    }
  }
  const ratios = bMs.map((v, i) => v / aMs[i]);
  const ratio = Math.exp(ratios.reduce((s, v) => s + Math.log(v), 0) / ratios.length);
  return { aMs, bMs, ratio, min: Math.min(...ratios), max: Math.max(...ratios) };
}
