/**
 * Images per second through the batch loader (decode + resize + flip +
 * normalise + pad), with 0 (decode on the main thread, the peer), 1 and 2
 * worker threads, on the synthetic `default` set at two training sizes.
 *
 *   deno run -A bench/data_loader.ts [--images N]
 */
import { BatchLoader } from "../data/image/batch_loader.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { generateSynthetic } from "../data/synth/generate.ts";

function _flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} expects a whole number, got ${Deno.args[i + 1]}`);
  return v;
}

const n = _flag("--images", 1200);
const dir = await Deno.makeTempDir({ prefix: "tailor_loader_" });
const synth = await generateSynthetic({ outDir: dir, preset: "default" });
const { dataset } = await ingestDataset(synth.trainJson, { cache: false });
const order = Array.from({ length: n }, (_, i) => i % dataset.images.count);
const load = Deno.loadavg()[0].toFixed(1);
console.log(`${navigator.hardwareConcurrency} cores, load average ${load}; ${n} images of 128x128 PNG, batch 16`);
for (const shortSides of [[112, 128, 144], [480, 512, 544]]) {
  for (const workers of [0, 1, 2]) {
    const loader = new BatchLoader({ dataset, order, batchSize: 16, workers, augment: { shortSides } });
    const t0 = performance.now();
    let images = 0;
    for await (const b of loader) images += b.batch;
    const s = (performance.now() - t0) / 1000;
    console.log(`short side ${shortSides.join("/")}, workers ${workers}: ${(images / s).toFixed(0)} images/s`);
  }
}
await Deno.remove(dir, { recursive: true });
