/**
 * Synthetic dataset generation speed per preset (images per minute, PNG
 * written), on this machine.
 *
 *   deno run -A bench/data_synth.ts [ci|default|bench ...]
 */
import { generateSynthetic } from "../data/synth/generate.ts";
import type { SynthPreset } from "../data/synth/presets.ts";

const presets = (Deno.args.length ? Deno.args : ["ci", "default"]) as SynthPreset[];
for (const preset of presets) {
  const dir = await Deno.makeTempDir({ prefix: `tailor_synth_${preset}_` });
  const t0 = performance.now();
  const r = await generateSynthetic({ outDir: dir, preset });
  const s = (performance.now() - t0) / 1000;
  const n = r.counts.trainImages + r.counts.valImages;
  console.log(
    `${preset}: ${r.counts.trainImages} train + ${r.counts.valImages} val images (${r.settings.imageSize} px, ` +
      `${r.settings.categories} categories, ${r.counts.rare}/${r.counts.common}/${r.counts.frequent} r/c/f), ` +
      `${r.counts.trainAnnotations + r.counts.valAnnotations} annotations in ${s.toFixed(1)} s = ${
        (n / s * 60).toFixed(0)
      } images/min`,
  );
  await Deno.remove(dir, { recursive: true });
}
