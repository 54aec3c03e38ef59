/** Shared test inputs for the data tests: a fresh seed per run and a small synthetic set. */
import { Rng } from "../../core/rng.ts";
import { generateSynthetic, type SynthResult } from "../../data/synth/generate.ts";

/** A fresh seed per run; set TAILOR_TEST_SEED to replay a failure. */
export const SEED = Number(Deno.env.get("TAILOR_TEST_SEED") ?? (Date.now() % 1e9));

export function rng(salt = 0): Rng {
  return new Rng(SEED + salt);
}

let _ci: Promise<SynthResult> | undefined;

/** The `ci` synthetic set with this run's seed, generated once per test file. */
export function ciSet(): Promise<SynthResult> {
  _ci ??= Deno.makeTempDir({ prefix: "tailor_data_" }).then((dir) =>
    generateSynthetic({ outDir: dir, preset: "ci", seed: SEED % 100000 })
  );
  return _ci;
}

export const FIXTURES = new URL("../../../shared/fixtures/lvis/", import.meta.url).pathname;
