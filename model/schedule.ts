/** Learning-rate schedules: linear warm-up, then step or cosine decay. */
import { z } from "zod";

export const LrSchedule = z.object({
  base: z.number().positive(),
  warmupIters: z.number().int().nonnegative().default(50),
  warmupFactor: z.number().positive().max(1).default(0.1),
  decay: z.enum(["step", "cosine", "none"]).default("step"),
  /** For step decay: iterations at which the rate is multiplied by `gamma`. */
  steps: z.array(z.number().int().positive()).default([]),
  gamma: z.number().positive().default(0.1),
}, {
  // A bare number is the usual slip: say what the object looks like.
  error: (issue) =>
    issue.code === "invalid_type"
      ? `expected a schedule object like { base: 0.02, warmupIters: 50, decay: cosine }, received ${
        issue.input === null ? "null" : Array.isArray(issue.input) ? "array" : typeof issue.input
      }`
      : undefined,
});
export type LrSchedule = z.infer<typeof LrSchedule>;

/** The learning rate at iteration `iter` (0-based) of `total`. */
export function learningRate(s: LrSchedule, iter: number, total: number): number {
  let lr = s.base;
  if (s.decay === "step") {
    for (const at of s.steps) if (iter >= at) lr *= s.gamma;
  } else if (s.decay === "cosine") {
    lr = s.base * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, iter / Math.max(1, total))));
  }
  if (iter < s.warmupIters) {
    const a = iter / s.warmupIters;
    lr *= s.warmupFactor * (1 - a) + a;
  }
  return lr;
}
