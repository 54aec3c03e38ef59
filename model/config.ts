/**
 * Detector configuration: a zod schema with named presets. `tiny` trains in
 * seconds per epoch on the CI-size synthetic set; `small` is the benchmark
 * preset.
 */
import { z } from "zod";

export const DetectorConfig = z.object({
  /** Channel width of the stem and of each backbone stage (each stage halves the resolution). */
  widths: z.array(z.number().int().positive()).min(2),
  /** Residual blocks per stage (after the stem). */
  blocks: z.array(z.number().int().positive()),
  /** Group-norm groups (channels must divide). */
  gnGroups: z.number().int().positive().default(4),
  /** Add an FPN over the last two stages; features then come from the finer level. */
  fpn: z.boolean().default(false),
  /** Channels of the features that the RPN and the RoI head see. */
  featureChannels: z.number().int().positive(),
  /** Anchor sizes in pixels and aspect ratios (h/w). */
  anchorSizes: z.array(z.number().positive()).default([16, 32, 64]),
  anchorRatios: z.array(z.number().positive()).default([0.5, 1, 2]),
  rpn: z.object({
    preNmsTopK: z.number().int().positive().default(600),
    postNmsTopK: z.number().int().positive().default(200),
    nmsThreshold: z.number().gt(0).lt(1).default(0.7),
    batchPerImage: z.number().int().positive().default(128),
    positiveFraction: z.number().gt(0).lt(1).default(0.5),
  }).default({ preNmsTopK: 600, postNmsTopK: 200, nmsThreshold: 0.7, batchPerImage: 128, positiveFraction: 0.5 }),
  roi: z.object({
    poolSize: z.number().int().positive().default(5),
    samplingRatio: z.number().int().nonnegative().default(2),
    batchPerImage: z.number().int().positive().default(128),
    positiveFraction: z.number().gt(0).lt(1).default(0.25),
    fcDim: z.number().int().positive().default(256),
    fgIou: z.number().gt(0).lt(1).default(0.5),
  }).default({ poolSize: 5, samplingRatio: 2, batchPerImage: 128, positiveFraction: 0.25, fcDim: 256, fgIou: 0.5 }),
  test: z.object({
    scoreThreshold: z.number().min(0).max(1).default(0.0001),
    nmsThreshold: z.number().gt(0).lt(1).default(0.5),
    detectionsPerImage: z.number().int().positive().default(300),
    proposals: z.number().int().positive().default(200),
    /** Highest-scoring (box, class) candidates per image kept for class-wise NMS. */
    candidates: z.number().int().positive().default(4000),
  }).default({ scoreThreshold: 0.0001, nmsThreshold: 0.5, detectionsPerImage: 300, proposals: 200, candidates: 4000 }),
});
export type DetectorConfig = z.infer<typeof DetectorConfig>;

export const PRESETS: Record<string, z.input<typeof DetectorConfig>> = {
  tiny: {
    widths: [16, 32, 64],
    blocks: [1, 1],
    gnGroups: 4,
    fpn: false,
    featureChannels: 64,
    anchorSizes: [16, 32, 64],
    roi: { poolSize: 5, samplingRatio: 2, batchPerImage: 64, positiveFraction: 0.25, fcDim: 128, fgIou: 0.5 },
  },
  small: {
    widths: [16, 32, 64, 96],
    blocks: [1, 1, 1],
    gnGroups: 8,
    fpn: true,
    featureChannels: 64,
    anchorSizes: [12, 24, 48, 96],
    roi: { poolSize: 5, samplingRatio: 2, batchPerImage: 128, positiveFraction: 0.25, fcDim: 256, fgIou: 0.5 },
  },
};

/** A preset by name, with overrides merged on top and validated. */
export function detectorConfig(
  preset: string,
  overrides: Partial<z.input<typeof DetectorConfig>> = {},
): DetectorConfig {
  const base = PRESETS[preset];
  if (!base) throw new Error(`Unknown model preset "${preset}" (known: ${Object.keys(PRESETS).join(", ")})`);
  return DetectorConfig.parse({ ...base, ...overrides });
}
