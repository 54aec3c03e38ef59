/**
 * `deno run -A data/cli.ts synth|ingest`: generate the synthetic dataset, or ingest an annotation file.
 * @example
 * ```sh
 * deno run -A data/cli.ts synth --preset ci --out runs/data/synth_ci
 * deno run -A data/cli.ts ingest runs/data/synth_ci/annotations/lvis_v1_train.json
 * ```
 */
import { Command, Option } from "@commander-js/extra-typings";
import { InputError } from "../core/errors.ts";
import { writeDirAtomic } from "../core/atomic.ts";
import { FREQUENCIES } from "./dataset.ts";
import { ingestDataset } from "./ingest_dataset.ts";
import { summarizeIssues } from "./ingest/issues.ts";
import { datasetNotes } from "./dataset_notes.ts";
import { findMissingImages, missingImagesMessage } from "./image_files.ts";
import { generateSynthetic } from "./synth/generate.ts";
import { MAX_SYNTH_CATEGORIES } from "./synth/catalog.ts";
import { SYNTH_PRESETS, type SynthPreset } from "./synth/presets.ts";

function _int(flag: string, lo: number, hi = Infinity) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) {
      throw new InputError(`Invalid ${flag} ${JSON.stringify(v)}: expected a whole number in [${lo}, ${hi}]`);
    }
    return n;
  };
}

export function buildDataProgram(): Command {
  const program = new Command("data").description("Synthetic data and annotation ingestion").showHelpAfterError();
  program.command("synth").description("Generate the long-tailed synthetic dataset (PNG + LVIS v1 JSON)")
    .addOption(
      new Option("--preset <name>", "settings preset").choices(Object.keys(SYNTH_PRESETS) as SynthPreset[]).default(
        "default" as const,
      ),
    )
    .requiredOption("--out <dir>", "output folder (replaced when generation succeeds)")
    .addOption(
      new Option("--format <format>", "annotation format: LVIS v1, or COCO without LVIS's fields")
        .choices(["lvis", "coco"] as const).default("lvis" as const),
    )
    .addOption(
      new Option("--categories <n>", "number of categories").argParser(_int("--categories", 3, MAX_SYNTH_CATEGORIES)),
    )
    .addOption(new Option("--image-size <px>", "image width and height").argParser(_int("--image-size", 32, 4096)))
    .addOption(new Option("--seed <n>", "random seed").argParser(_int("--seed", 0)))
    .action(async (opts) => {
      const t0 = performance.now();
      let last = 0;
      let result: Awaited<ReturnType<typeof generateSynthetic>> | undefined;
      await writeDirAtomic(opts.out, async (dir) => {
        result = await generateSynthetic({
          outDir: dir,
          preset: opts.preset,
          format: opts.format,
          categories: opts.categories,
          imageSize: opts.imageSize,
          seed: opts.seed,
          onProgress: (done, total) => {
            if (done === total || performance.now() - last > 1000) {
              last = performance.now();
              Deno.stderr.writeSync(new TextEncoder().encode(`\r${done}/${total} images`));
            }
          },
        });
      });
      const c = result!.counts;
      const s = (performance.now() - t0) / 1000;
      console.error("");
      console.log(
        `${opts.out}: ${c.trainImages} train + ${c.valImages} val images, ${c.trainAnnotations} + ${c.valAnnotations} ` +
          `annotations, ${c.rare}/${c.common}/${c.frequent} r/c/f categories in ${s.toFixed(1)} s`,
      );
    });
  program.command("ingest").description("Validate an LVIS/COCO annotation file and cache its columns")
    .argument("<file>", "annotation JSON file")
    .option("--image-root <dir>", "folder the image file names are relative to")
    .option("--cache <dir>", "cache folder", ".cache/datasets")
    .option("--skip-errors", "leave out annotations with errors instead of failing")
    .action(async (file, opts) => {
      const t0 = performance.now();
      const r = await ingestDataset(file, {
        imageRoot: opts.imageRoot,
        cache: opts.cache,
        onError: opts.skipErrors ? "skip" : "throw",
      });
      const ds = r.dataset;
      const groups = FREQUENCIES.map((f, g) => `${ds.categories.frequency.filter((x) => x === g).length} ${f}`);
      console.log(
        `${file}: ${ds.images.count} images, ${ds.annotations.count} annotations, ${ds.categories.count} categories ` +
          `(${groups.join(", ")}) in ${((performance.now() - t0) / 1000).toFixed(2)} s${
            r.fromCache ? " (cached)" : ""
          }`,
      );
      const missing = await findMissingImages(ds);
      const missingMessage = missingImagesMessage(missing, ds.images.count, ds.imageRoot);
      const issues = missingMessage
        ? {
          errors: r.issues.errors,
          warnings: { ...r.issues.warnings, "missing image file": missing.count },
          messages: [...r.issues.messages, missingMessage],
        }
        : r.issues;
      console.log(summarizeIssues(issues));
      for (const m of issues.messages) console.log(`  ${m}`);
      for (const note of datasetNotes(ds)) console.log(`note: ${note}`);
      if (r.cachePath) console.log(`cache: ${r.cachePath}`);
    });
  return program;
}

if (import.meta.main) {
  try {
    await buildDataProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    for (const line of e instanceof InputError ? message.split("\n") : [message.split("\n")[0]]) {
      console.error(`error: ${line}`);
    }
    if (!(e instanceof InputError) && Deno.env.get("TAILOR_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
