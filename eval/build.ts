/**
 * `deno task build`: the standalone `tailor-eval`, one file that needs no
 * Deno, no repository and no network at run time.
 *
 *   deno task build [--out dist/tailor-eval] [--node /usr/bin/node]
 *   deno task build --deno-compile [--target x86_64-apple-darwin]
 *
 * The default bundles `eval/main.ts` into a Node.js single executable application (a copy of `node` >= 20
 * with the bundle injected by postject). `deno compile` needs `denort` from dl.deno.land, which some machines
 * cannot reach; where it can, `--deno-compile` builds with it instead, for any target Deno supports.
 */
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "postject";
import { BUNDLE_ASSET } from "./threads.ts";

/** The fuse that marks a Node binary as carrying an application (Node's documented sentinel). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const ENTRY = fileURLToPath(new URL("./main.ts", import.meta.url));

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code})`);
}

function which(name: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
    } catch { /* not here */ }
  }
  throw new Error(`Cannot find ${name} on PATH (pass --node /path/to/node, version 20 or later)`);
}

async function buildNode(out: string, node: string): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "tailor_eval_build_" });
  try {
    const bundle = join(work, "tailor_eval.cjs"), blob = join(work, "sea.blob");
    await run(Deno.execPath(), ["bundle", "--quiet", "--format", "cjs", "--platform", "deno", "-o", bundle, ENTRY]);
    // The bundle is also an asset: worker threads run it again (eval/main.ts).
    const config = {
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets: { [BUNDLE_ASSET]: bundle },
    };
    await writeFile(join(work, "sea.json"), JSON.stringify(config));
    await run(node, ["--experimental-sea-config", join(work, "sea.json")]);
    await mkdir(dirname(out), { recursive: true });
    await rm(out, { force: true });
    await copyFile(node, out);
    await chmod(out, 0o755);
    await inject(out, "NODE_SEA_BLOB", await readFile(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const out = resolve(arg("out", "dist/tailor-eval"));
  if (Deno.args.includes("--deno-compile")) {
    const target = Deno.args.includes("--target") ? ["--target", arg("target", "")] : [];
    await run(Deno.execPath(), ["compile", "--allow-read", "--allow-write", ...target, "-o", out, ENTRY]);
  } else await buildNode(out, Deno.args.includes("--node") ? arg("node", "") : which("node"));
  console.log(out);
}
