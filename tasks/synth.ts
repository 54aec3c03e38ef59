/** The `synth` stage: the long-tailed synthetic detection dataset (PNG, LVIS v1). */
import { z } from "zod";
import { defineStage } from "../pipeline/stage.ts";
import { generateSynthetic } from "../data/synth/generate.ts";
import { MAX_SYNTH_CATEGORIES } from "../data/synth/catalog.ts";
import { SYNTH_PRESETS, type SynthPreset } from "../data/synth/presets.ts";

/** A preset, overridden field by field. */
export const synthParams = z.strictObject({
  preset: z.enum(Object.keys(SYNTH_PRESETS) as [SynthPreset, ...SynthPreset[]]).default("default"),
  /** "coco": no frequency, no negative lists, as a user's own data would be. */
  format: z.enum(["lvis", "coco"]).default("lvis"),
  categories: z.int().min(3).max(MAX_SYNTH_CATEGORIES).optional(),
  imageSize: z.int().min(32).max(4096).optional(),
  countScale: z.number().positive().optional(),
  maxFrequentImages: z.int().min(100).optional(),
  valFraction: z.number().min(0).max(1).optional(),
  valMinImages: z.int().min(1).optional(),
  categoriesPerImage: z.int().min(1).optional(),
  seed: z.int().optional(),
});

export const synthOutput = z.object({
  trainJson: z.string(),
  valJson: z.string(),
  imageRoot: z.string(),
  trainImages: z.int(),
  valImages: z.int(),
  trainAnnotations: z.int(),
  valAnnotations: z.int(),
  rare: z.int(),
  common: z.int(),
  frequent: z.int(),
});

/**
 * @example
 * ```ts
 * import { directContext } from "../pipeline/stage.ts";
 * import { synthParams, synthStage } from "./synth.ts";
 * const out = await synthStage.run(synthParams.parse({ preset: "ci" }), directContext(await Deno.makeTempDir()));
 * out.trainImages > 0; // true
 * ```
 */
export const synthStage = defineStage({
  kind: "synth",
  description: "Generate the long-tailed synthetic dataset (PNG images, LVIS v1 annotations)",
  params: synthParams,
  output: synthOutput,
  async run(params, ctx) {
    const { preset, ...overrides } = params;
    const r = await generateSynthetic({
      ...overrides,
      preset,
      outDir: ctx.outDir,
      onProgress: (done, total) => ctx.progress(done, total, "images", "render"),
    });
    ctx.log(
      `${r.counts.trainImages} train + ${r.counts.valImages} val images, ` +
        `${r.counts.rare}/${r.counts.common}/${r.counts.frequent} rare/common/frequent categories`,
    );
    return { trainJson: r.trainJson, valJson: r.valJson, imageRoot: r.imageRoot, ...r.counts };
  },
});
