/** Helpers for the evaluation tests: fixture paths, a fresh seed, tiny case files. */
import { fileURLToPath } from "node:url";
import { Rng } from "../../core/rng.ts";

/** The official LVIS API's outputs (see shared/fixtures/README.md). */
export const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/lvis/", import.meta.url));

/** A fresh seed per run; set TAILOR_TEST_SEED to replay one. */
export const SEED = Number(Deno.env.get("TAILOR_TEST_SEED") ?? (Date.now() % 1e9));

export function rng(salt = 0): Rng {
  return new Rng(SEED + salt);
}

/** Write `gt` and `dt` as JSON files into a fresh temp folder. */
export async function writeCase(gt: unknown, dt: unknown): Promise<{ dir: string; gt: string; dt: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tailor_eval_" });
  const paths = { dir, gt: `${dir}/gt.json`, dt: `${dir}/dt.json` };
  await Deno.writeTextFile(paths.gt, typeof gt === "string" ? gt : JSON.stringify(gt));
  await Deno.writeTextFile(paths.dt, typeof dt === "string" ? dt : JSON.stringify(dt));
  return paths;
}

/** A minimal LVIS v1 ground truth. */
export function tinyGt(options: {
  images: { id: number; neg?: number[]; nel?: number[] }[];
  categories: { id: number; frequency: string }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area?: number }[];
}): unknown {
  return {
    images: options.images.map((im) => ({
      id: im.id,
      width: 640,
      height: 480,
      neg_category_ids: im.neg ?? [],
      not_exhaustive_category_ids: im.nel ?? [],
    })),
    categories: options.categories,
    annotations: options.annotations.map((a) => ({ area: a.bbox[2] * a.bbox[3], ...a })),
  };
}
