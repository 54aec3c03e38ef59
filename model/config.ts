/**
 * Detector configuration with named presets: `r50_fpn` is torchvision 0.14's Mask R-CNN R50-FPN; `tiny`
 * (CI) and `small` (demo, benchmark) use a group-norm ResNet and a smaller mask head.
 */
import { z } from "zod";
import { InputError, quote } from "../core/errors.ts";
import { BackboneConfig } from "./backbones/registry.ts";
import { FpnConfig } from "./backbones/fpn.ts";
import { BoxHeadKinds, MaskHeadKinds, RpnHeadConfig } from "./heads/registry.ts";

export const RoiConfig = z.strictObject({
  /** RoIs sampled per image for the box head, and the largest foreground share. */
  batchPerImage: z.int().positive().default(512),
  positiveFraction: z.number().gt(0).lt(1).default(0.25),
  /** A proposal is foreground at IoU >= this with a ground truth. */
  fgIou: z.number().gt(0).lt(1).default(0.5),
  samplingRatio: z.int().nonnegative().default(2),
  /** The level mapper's canonical RoI side and level (torchvision: 224 at level 4). */
  canonicalSize: z.number().positive().default(224),
  canonicalLevel: z.int().positive().default(4),
  /** RoIAlignV2's half-pixel offset (torchvision's MultiScaleRoIAlign: off). */
  aligned: z.boolean().default(false),
});
export type RoiConfig = z.infer<typeof RoiConfig>;

export const TestConfig = z.strictObject({
  /** RPN proposals per level before NMS, and per image after it. */
  preNmsTopK: z.int().positive().default(1000),
  proposals: z.int().positive().default(1000),
  /** LVIS's setting: score 0.0001, 300 detections per image. */
  scoreThreshold: z.number().min(0).max(1).default(0.0001),
  nmsThreshold: z.number().gt(0).lt(1).default(0.5),
  detectionsPerImage: z.int().positive().default(300),
  /** Highest-scoring (box, class) candidates kept for class-wise NMS; null keeps all (torchvision). */
  candidates: z.int().positive().nullable().default(null),
});

export const InputConfig = z.strictObject({
  /** Shorter side after resizing, and the cap on the longer side. */
  minSize: z.int().positive().default(800),
  maxSize: z.int().positive().default(1333),
  sizeDivisor: z.int().positive().default(32),
});

export const DetectorConfig = z.object({
  backbone: BackboneConfig,
  fpn: FpnConfig.default({ channels: 256, extraPool: true }),
  rpn: RpnHeadConfig,
  roi: RoiConfig.default(RoiConfig.parse({})),
  boxHead: BoxHeadKinds.default({ kind: "two_fc", poolSize: 7, fcDim: 1024, boxLossBeta: 1 / 9 }),
  maskHead: MaskHeadKinds.nullable().default(null),
  test: TestConfig.default(TestConfig.parse({})),
  input: InputConfig.default(InputConfig.parse({})),
});
export type DetectorConfig = z.infer<typeof DetectorConfig>;

export const PRESETS: Record<string, z.input<typeof DetectorConfig>> = {
  tiny: {
    backbone: { kind: "gn_resnet", widths: [16, 32, 64], blocks: [1, 1], gnGroups: 4, returnLayers: [2] },
    fpn: { channels: 64, extraPool: false },
    rpn: {
      kind: "standard",
      anchorSizes: [[16, 32, 64]],
      preNmsTopK: 600,
      postNmsTopK: 200,
      batchPerImage: 128,
    },
    roi: { batchPerImage: 64, aligned: true },
    boxHead: { kind: "two_fc", poolSize: 5, fcDim: 128, boxLossBeta: 0 },
    // Objects of 64-128 px images span 4-60 px: 7x7 bins (14x14 masks) resolve them, one conv suffices for CI.
    // One mask for all categories: a rare category's own channel learns from a handful of examples, which caps
    // its mask APr whatever the loss (BENCHMARKS.md, "The demo").
    maskHead: { kind: "fcn", poolSize: 7, layers: [32], reducedChannels: 32, classAgnostic: true },
    test: { preNmsTopK: 600, proposals: 200, candidates: 4000 },
  },
  small: {
    backbone: { kind: "gn_resnet", widths: [16, 32, 64, 96], blocks: [1, 1, 1], gnGroups: 8, returnLayers: [1, 2, 3] },
    fpn: { channels: 64, extraPool: true },
    rpn: {
      kind: "standard",
      anchorSizes: [[12], [24], [48], [96]],
      preNmsTopK: 600,
      postNmsTopK: 200,
      batchPerImage: 128,
    },
    roi: { batchPerImage: 128, aligned: true, canonicalSize: 56 },
    boxHead: { kind: "two_fc", poolSize: 5, fcDim: 256, boxLossBeta: 0 },
    // One 32-channel conv: inference runs the head on up to 1200 detections per batch, where two
    // 64-channel convs cost 4-5x the box-only prediction (BENCHMARKS.md).
    maskHead: { kind: "fcn", poolSize: 7, layers: [32], reducedChannels: 32, classAgnostic: true },
    test: { preNmsTopK: 600, proposals: 200, candidates: 4000 },
  },
  r50_fpn: {
    backbone: { kind: "resnet", depth: 50, trainableLayers: 3 },
    fpn: { channels: 256, extraPool: true },
    rpn: { kind: "standard", anchorSizes: [[32], [64], [128], [256], [512]] },
    maskHead: { kind: "fcn" },
  },
};

/**
 * A preset with overrides merged one level deep (`{ rpn: { batchPerImage: 64 } }` changes that field only), validated.
 *
 * @example
 * ```ts
 * const cfg = detectorConfig("r50_fpn", { backbone: { kind: "resnet", trainableLayers: 5 } });
 * ```
 */
export function detectorConfig(preset: string, overrides: Record<string, unknown> = {}): DetectorConfig {
  const base = PRESETS[preset] as Record<string, unknown> | undefined;
  if (!base) {
    throw new InputError(`Unknown model preset ${quote(preset)} (known: ${Object.keys(PRESETS).join(", ")})`);
  }
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    const b = base[k];
    const plain = (x: unknown) => x !== null && typeof x === "object" && !Array.isArray(x);
    merged[k] = plain(b) && plain(v) ? { ...(b as object), ...(v as object) } : v;
  }
  const r = DetectorConfig.safeParse(merged);
  if (!r.success) {
    const i = r.error.issues[0];
    // The issues travel along so that a plan can name the override's own path.
    throw Object.assign(
      new InputError(`Invalid model configuration at "${i.path.join(".")}" (preset ${quote(preset)}): ${i.message}`),
      { issues: r.error.issues },
    );
  }
  return r.data;
}
