/**
 * LVIS v1-like synthetic cases: 1203 categories (337 r / 461 c / 405 f), ~11.4 boxes and 250-350 results per
 * image, ties and area edges sprinkled in. `deno run -A eval/synthetic_case.ts --images 5000 --seed 1 --out DIR`.
 */
import { join } from "node:path";
import { Rng } from "../core/rng.ts";

export interface SyntheticOptions {
  images: number;
  seed?: number;
  groups?: [number, number, number];
  resultsPerImage?: [number, number];
  boxesPerImage?: number;
}

const _r2 = (v: number) => Math.round(v * 100) / 100;

function _box(rng: Rng, w: number, h: number): number[] {
  // Log-uniform side lengths spread boxes over small, medium and large.
  const bw = Math.min(w - 1, Math.exp(rng.uniform(Math.log(4), Math.log(w * 0.9))));
  const bh = Math.min(h - 1, bw * Math.exp(rng.uniform(-0.7, 0.7)));
  return [_r2(rng.uniform(0, w - bw)), _r2(rng.uniform(0, h - bh)), _r2(bw), _r2(Math.max(1, bh))];
}

/**
 * Write `gt.json` and `dt.json` for a synthetic LVIS v1-like case.
 *
 * @param dir output folder (created)
 * @param options size and seed
 * @returns the two paths and the number of results written
 * @example
 * ```ts
 * const { gt, dt } = await writeSyntheticCase("/tmp/lvis_small", { images: 50, seed: 7 });
 * ```
 */
export async function writeSyntheticCase(
  dir: string,
  options: SyntheticOptions,
): Promise<{ gt: string; dt: string; results: number }> {
  const rng = new Rng(options.seed ?? 1);
  const [nr, nc, nf] = options.groups ?? [337, 461, 405];
  const K = nr + nc + nf;
  const [rLo, rHi] = options.resultsPerImage ?? [250, 350];
  const boxesMean = options.boxesPerImage ?? 11.4;
  const freq = Array.from({ length: K }, (_, k) => (k < nr ? "r" : k < nr + nc ? "c" : "f"));
  rng.shuffle(freq);
  // Frequent categories appear far more often in images.
  const weight = freq.map((f) => (f === "f" ? 30 : f === "c" ? 4 : 1));
  const cum = new Float64Array(K);
  weight.reduce((s, w, k) => (cum[k] = s + w), 0);
  const pick = () => {
    const x = rng.float() * cum[K - 1];
    let lo = 0, hi = K - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const catId = (k: number) => k + 1;
  await Deno.mkdir(dir, { recursive: true });
  const gtPath = join(dir, "gt.json"), dtPath = join(dir, "dt.json");
  const images: unknown[] = [], annotations: unknown[] = [];
  const dtFile = await Deno.open(dtPath, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let buffer: string[] = [], results = 0, annId = 1;
  const flush = async () => {
    await dtFile.write(enc.encode(buffer.join("")));
    buffer = [];
  };
  buffer.push("[");
  for (let i = 0; i < options.images; i++) {
    const id = 1000 + i * 7, w = 400 + rng.int(241), h = 300 + rng.int(241);
    const nBoxes = Math.max(0, Math.round(boxesMean + rng.normal() * 4));
    const pos = new Set<number>();
    const boxes: [number, number[]][] = [];
    const nCats = 1 + rng.int(4);
    const cats = Array.from({ length: nCats }, pick);
    for (let b = 0; b < nBoxes; b++) {
      const k = cats[rng.int(nCats)], box = _box(rng, w, h);
      // Some areas sit exactly on the small/medium and medium/large edges.
      const area = rng.float() < 0.01 ? (rng.float() < 0.5 ? 1024 : 9216) : _r2(box[2] * box[3]);
      pos.add(k);
      boxes.push([k, box]);
      annotations.push({ id: annId++, image_id: id, category_id: catId(k), bbox: box, area });
    }
    const neg = new Set<number>();
    while (neg.size < 6) {
      const k = rng.int(K);
      if (!pos.has(k)) neg.add(k);
    }
    const nel = [...pos].filter(() => rng.float() < 0.8 / Math.max(1, pos.size));
    images.push({
      id,
      width: w,
      height: h,
      neg_category_ids: [...neg].map(catId),
      not_exhaustive_category_ids: nel.map(catId),
    });
    const nRes = rLo + rng.int(rHi - rLo + 1);
    const negList = [...neg];
    for (let r = 0; r < nRes; r++) {
      let k: number, box: number[];
      const u = rng.float();
      if (u < 0.35 && boxes.length) {
        const [gk, gb] = boxes[rng.int(boxes.length)];
        k = rng.float() < 0.8 ? gk : pick();
        const j = () => rng.normal() * 0.08;
        box = [_r2(gb[0] + gb[2] * j()), _r2(gb[1] + gb[3] * j()), _r2(gb[2] * (1 + j())), _r2(gb[3] * (1 + j()))];
        box[2] = Math.max(0, box[2]);
        box[3] = Math.max(0, box[3]);
      } else {
        k = u < 0.5 ? negList[rng.int(negList.length)] : pick();
        box = _box(rng, w, h);
      }
      // Scores on a 1e-4 grid make ties, some across the 300 cut.
      const score = Math.round(rng.float() ** 2 * 1e4) / 1e4;
      buffer.push(
        `${results ? "," : ""}{"image_id":${id},"category_id":${catId(k)},"bbox":[${box.join(",")}],"score":${score}}`,
      );
      results++;
    }
    if (buffer.length > 100000) await flush();
  }
  buffer.push("]");
  await flush();
  dtFile.close();
  const categories = freq.map((f, k) => ({ id: catId(k), name: `cat_${k + 1}`, frequency: f }));
  await Deno.writeTextFile(gtPath, JSON.stringify({ images, annotations, categories }));
  return { gt: gtPath, dt: dtPath, results };
}

if (import.meta.main) {
  const arg = (name: string, fallback: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : fallback;
  };
  const out = arg("out", "/tmp/lvis_synthetic");
  const r = await writeSyntheticCase(out, { images: Number(arg("images", "5000")), seed: Number(arg("seed", "1")) });
  console.log(`wrote ${r.gt} and ${r.dt} (${r.results} results)`);
}
