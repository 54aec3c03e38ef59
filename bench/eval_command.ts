/**
 * Whole-command benchmark of `eval/cli.ts` (load + evaluate + summarize +
 * write) on synthetic LVIS v1-like cases, measured with /usr/bin/time.
 *
 *   deno run -A bench/eval_command.ts [--images 5000,20000] [--runs 3] [--peer "<command with {gt} {dt}>"]
 *
 * Cases are generated once under /tmp/tailor_eval_bench/. Prints a markdown
 * table: best wall time (with its CPU time, telling contention apart) and peak RSS.
 */
import { fileURLToPath } from "node:url";
import { writeSyntheticCase } from "../eval/synthetic_case.ts";

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};
const sizes = arg("images", "5000").split(",").map(Number);
const runs = Number(arg("runs", "3"));
const peer = arg("peer", "");
const cli = fileURLToPath(new URL("../eval/cli.ts", import.meta.url));

async function timed(cmd: string[]): Promise<{ wallS: number; cpuS: number; rssMiB: number }> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%e %U %S %M", ...cmd],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
  if (!out.success) throw new Error(`${cmd.join(" ")} failed:\n${lines.join("\n")}`);
  const [wall, user, sys, rssKb] = lines[lines.length - 1].split(" ").map(Number);
  return { wallS: wall, cpuS: user + sys, rssMiB: rssKb / 1024 };
}

console.log("| images | results | dt.json MiB | command | best wall s | its CPU s (user+sys) | peak RSS MiB |");
console.log("|---:|---:|---:|---|---:|---:|---:|");
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
  const commands: [string, string[]][] = [[
    "tailor eval",
    [
      Deno.execPath(),
      "run",
      "--allow-read",
      "--allow-write",
      cli,
      "--gt",
      `${dir}/gt.json`,
      "--dt",
      `${dir}/dt.json`,
      "--out",
      `${dir}/metrics.json`,
      "--quiet",
    ],
  ]];
  if (peer) {
    commands.push(["peer", [
      "bash",
      "-c",
      peer.replaceAll("{gt}", `${dir}/gt.json`).replaceAll("{dt}", `${dir}/dt.json`),
    ]]);
  }
  for (const [name, cmd] of commands) {
    let best = { wallS: Infinity, cpuS: 0, rssMiB: 0 };
    for (let r = 0; r < (name === "peer" ? 1 : runs); r++) {
      const m = await timed(cmd);
      if (m.wallS < best.wallS) best = m;
    }
    console.log(
      `| ${images} | ${results} | ${mib.toFixed(0)} | ${name} | ${best.wallS.toFixed(2)} | ${best.cpuS.toFixed(2)} | ${
        best.rssMiB.toFixed(0)
      } |`,
    );
  }
}
