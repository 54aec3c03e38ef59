/**
 * Whole-command benchmark of the evaluator (load + evaluate + summarize +
 * write) on synthetic LVIS v1-like cases, side by side in one run with
 * lvis-api, measured with /usr/bin/time; checks that the metrics agree bit
 * for bit.
 *
 *   deno task build    # optional: also times dist/tailor-eval
 *   LVIS_API=/path/to/lvis-api deno run -A bench/eval_command.ts [--images 1000,5000,20000] [--runs 3]
 *     [--peer-images 1000,5000] [--peer-memory-gib 16]
 *
 * Cases are generated once under /tmp/tailor_eval_bench/. The peer is
 * bench/eval_lvis_api_peer.py (lvis-api unmodified, numpy box IoU), run once
 * per case listed in --peer-images (default: every case) under a virtual
 * memory limit, so a case too large for the machine fails alone. Prints a
 * markdown table: best wall time, its CPU time (user + sys: telling
 * contention apart) and peak RSS; the load average before each case.
 */
import { fileURLToPath } from "node:url";
import { writeSyntheticCase } from "../eval/synthetic_case.ts";

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};
const sizes = arg("images", "1000,5000").split(",").map(Number);
const peerSizes = arg("peer-images", sizes.join(",")).split(",").map(Number);
const runs = Number(arg("runs", "3"));
const peerMemoryKib = Number(arg("peer-memory-gib", "16")) * 2 ** 20;
const lvisApi = Deno.env.get("LVIS_API");
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const exe = here("../dist/tailor-eval");

interface Timing {
  wallS: number;
  cpuS: number;
  rssMiB: number;
  ok: boolean;
}

async function timed(cmd: string[]): Promise<Timing> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%e %U %S %M", ...cmd],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
  const [wall, user, sys, rssKb] = lines[lines.length - 1].split(" ").map(Number);
  if (!out.success) console.error(`${cmd.join(" ")} failed:\n${lines.slice(-5).join("\n")}`);
  return { wallS: wall, cpuS: user + sys, rssMiB: rssKb / 1024, ok: out.success };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

const loadAverage = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");

console.log("| images | results | dt.json MiB | command | best wall s | its CPU s | peak RSS MiB | metrics |");
console.log("|---:|---:|---:|---|---:|---:|---:|---|");
for (const images of sizes) {
  const dir = `/tmp/tailor_eval_bench/lvis${images}`;
  let results: number;
  try {
    results = JSON.parse(await Deno.readTextFile(`${dir}/info.json`)).results;
  } catch {
    results = (await writeSyntheticCase(dir, { images, seed: 1 })).results;
    await Deno.writeTextFile(`${dir}/info.json`, JSON.stringify({ results }));
  }
  const mib = (await Deno.stat(`${dir}/dt.json`)).size / 2 ** 20;
  const io = (out: string) => ["--gt", `${dir}/gt.json`, "--dt", `${dir}/dt.json`, "--out", out, "--quiet"];
  const commands: [string, string[], string, number][] = [[
    "deno task eval",
    [Deno.execPath(), "run", "--allow-read", "--allow-write", here("../eval/main.ts"), ...io(`${dir}/tailor.json`)],
    `${dir}/tailor.json`,
    runs,
  ]];
  if (await exists(exe)) {
    commands.push([
      "dist/tailor-eval",
      [exe, ...io(`${dir}/exe.json`), "--format", "lvis-api"],
      `${dir}/exe.json`,
      runs,
    ]);
  }
  if (lvisApi && peerSizes.includes(images)) {
    const peer = here("./eval_lvis_api_peer.py");
    const line =
      `ulimit -v ${peerMemoryKib}; LVIS_API=${lvisApi} exec /usr/bin/python3 ${peer} ${dir}/gt.json ${dir}/dt.json ${dir}/peer.json > /dev/null`;
    commands.push(["lvis-api", ["bash", "-c", line], `${dir}/peer.json`, 1]);
  }
  console.error(`lvis${images}: load average ${await loadAverage()}`);
  const metrics: Record<string, Record<string, number>> = {};
  for (const [name, cmd, out, times] of commands) {
    let best: Timing = { wallS: Infinity, cpuS: 0, rssMiB: 0, ok: false };
    for (let r = 0; r < times; r++) {
      await Deno.remove(out).catch(() => {});
      const m = await timed(cmd);
      if (m.ok && m.wallS < best.wallS) best = m;
    }
    if (best.ok) {
      const written = JSON.parse(await Deno.readTextFile(out));
      metrics[name] = written.results ?? written;
    }
    // Every command's 13 metrics against the first one's, compared as doubles.
    const first = metrics["deno task eval"];
    const same = best.ok && first && Object.entries(first).every(([k, v]) => metrics[name][k] === v);
    const verdict = !best.ok ? "failed" : name === "deno task eval" ? "" : same ? "bit-identical" : "DIFFERENT";
    console.log(
      `| ${images} | ${results} | ${mib.toFixed(0)} | ${name} | ${best.ok ? best.wallS.toFixed(2) : "-"} | ${
        best.ok ? best.cpuS.toFixed(2) : "-"
      } | ${best.ok ? best.rssMiB.toFixed(0) : "-"} | ${verdict} |`,
    );
  }
}
