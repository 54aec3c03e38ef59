/** Random loss inputs and parameters for the kernel-vs-reference tests. */
import type { Rng } from "../../core/rng.ts";
import type { LossName } from "../../losses/registry.ts";

/** Parameters of every loss for C categories, randomised away from the defaults where that is safe. */
export function paramsFor(name: LossName, c: number, r: Rng): Record<string, unknown> {
  const counts = Array.from({ length: c }, () => 1 + r.int(500));
  const lw = 0.5 + r.float();
  switch (name) {
    case "bce":
      return { loss_weight: lw, background_channel: r.float() < 0.5 };
    case "ce":
      return { loss_weight: lw };
    case "focal":
      return { loss_weight: lw, gamma: 1 + 2 * r.float(), alpha: 0.1 + 0.8 * r.float() };
    case "eqlv2":
      return { loss_weight: lw, gamma: 8 + 8 * r.float(), mu: 0.5 + 0.5 * r.float(), alpha: 2 + 4 * r.float() };
    case "eql":
      return { loss_weight: lw, lambda: 0.05, image_counts: counts, num_images: 2000 };
    case "seesaw":
      return { loss_weight: lw, p: 0.5 + r.float(), q: 1 + 2 * r.float(), eps: 1e-2 };
    case "federated":
      return { loss_weight: lw, image_counts: counts, num_sample_cats: Math.ceil(c / 3), seed: r.int(1000) };
    case "efl":
      return { loss_weight: lw, gamma_b: 2, alpha: 0.25, s: 4 + 8 * r.float() };
    case "bags": {
      // Instance counts across three or four groups; a ratio near 1 sub-samples "others" in most steps.
      const instances = Array.from({ length: c }, () => Math.floor(Math.exp(r.uniform(0, Math.log(3000)))));
      return { loss_weight: lw, instance_counts: instances, others_sample_ratio: 0.5 + r.float(), seed: r.int(1000) };
    }
  }
}

/** Labels with a long tail and `bgFraction` background rows; category c - 1 never appears. */
export function randomLabels(r: Rng, rows: number, c: number, bgFraction: number): Int32Array {
  return Int32Array.from(
    { length: rows },
    () => r.float() < bgFraction ? c : Math.min(c - 2, Math.floor(Math.pow(r.float(), 3) * (c - 1))),
  );
}

/** Logits in (-6, 6), a few saturated at +-(20..40), never zero. */
export function randomLogits(r: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => {
    const sat = r.float() < 0.03;
    const v = sat ? (r.float() < 0.5 ? -1 : 1) * (20 + 20 * r.float()) : r.uniform(-6, 6);
    return Math.fround(v === 0 ? 0.37 : v);
  });
}
