/** The parameters of a training loop that `train` and `retrain` share: optimiser, batches, inputs, checkpoints. */
import { z } from "zod";

export const loopParams = {
  batchSize: z.int().positive().default(4),
  momentum: z.number().min(0).max(1).default(0.9),
  weightDecay: z.number().min(0).default(1e-4),
  clipNorm: z.number().min(0).default(10),
  seed: z.int().default(1),
  checkpointEvery: z.int().positive().default(100),
  shortSides: z.array(z.int().positive()).default([128]),
  maxSize: z.int().positive().default(1333),
  flipProbability: z.number().min(0).max(1).default(0.5),
  workers: z.int().nonnegative().optional(),
  /** "skip" leaves a missing or corrupt image out and counts it. */
  onBadImage: z.enum(["throw", "skip"]).default("throw"),
};
