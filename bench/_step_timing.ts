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
