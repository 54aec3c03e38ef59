/**
 * Ingest an LVIS-v1-train-sized file (100,170 images, 1203 categories,
 * 1.27M annotations with ~45-vertex polygons, ~1.1 GB) in a fresh process
 * under /usr/bin/time -v, then load its cache. Target: <= 15 s and <= 2 GB
 * peak RSS for the ingestion; well under a second for the cache.
 *
 *   deno run -A bench/data_ingest_big.ts [--annotations N] [--peer]
 *
 * `--peer` also times Python's json.load of the same file, side by side.
 */
import { join } from "node:path";
import { writeLvisLikeFile } from "../data/synth/lvis_like_file.ts";

const args = Deno.args;
function _flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} expects a whole number, got ${Deno.args[i + 1]}`);
  return v;
}

const annotations = _flag("--annotations", 1_270_141);
const dir = join(Deno.cwd(), ".cache", "bench");
const file = join(dir, `lvis_like_train_${annotations}.json`);
await Deno.mkdir(dir, { recursive: true });
if (!(await Deno.stat(file).catch(() => null))) {
  const t0 = performance.now();
  const { bytes } = await writeLvisLikeFile({ path: file, annotations });
  console.log(`generated ${file}: ${(bytes / 1e9).toFixed(3)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function timed(cmd: string[]): Promise<{ seconds: number; cpuSeconds: number; rssMiB: number; out: string }> {
  const out = await new Deno.Command("/usr/bin/time", { args: ["-v", ...cmd], stdout: "piped", stderr: "piped" })
    .output();
  const err = new TextDecoder().decode(out.stderr);
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd.join(" ")} failed:\n${err}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(err)!;
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  const rssMiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(err)![1]) / 1024;
  const cpuSeconds = Number(/User time \(seconds\): ([\d.]+)/.exec(err)![1]) +
    Number(/System time \(seconds\): ([\d.]+)/.exec(err)![1]);
  return { seconds, cpuSeconds, rssMiB, out: text.trim() };
}

function _fmt(t: { seconds: number; cpuSeconds: number; rssMiB: number }): string {
  return `${t.seconds.toFixed(2)} s wall, ${t.cpuSeconds.toFixed(2)} s CPU, ${t.rssMiB.toFixed(0)} MiB peak RSS`;
}

const cache = await Deno.makeTempDir({ prefix: "tailor_bench_cache_" });
const cli = [
  Deno.execPath(),
  "run",
  "-A",
  join(import.meta.dirname!, "..", "data", "cli.ts"),
  "ingest",
  file,
  "--cache",
  cache,
];
const bytes = (await Deno.stat(file)).size;
console.log(`file: ${(bytes / 1e9).toFixed(3)} GB, ${annotations} annotations; ${navigator.hardwareConcurrency} cores`);
const cold = await timed(cli);
const load = () => Deno.loadavg()[0].toFixed(1);
console.log(`ingest (parse, validate, index, hash, write cache): ${_fmt(cold)} (load average ${load()})`);
console.log(`  ${cold.out.split("\n")[0]}`);
const warm = await timed(cli);
console.log(`cache load, whole process: ${_fmt(warm)}`);
console.log(`  ${warm.out.split("\n")[0]}`);
if (args.includes("--peer")) {
  const py = await timed([
    "python3",
    "-c",
    `import json,sys; d=json.load(open(sys.argv[1])); print(len(d["annotations"]))`,
    file,
  ]);
  console.log(`peer: python3 json.load: ${_fmt(py)}`);
}
await Deno.remove(cache, { recursive: true });
