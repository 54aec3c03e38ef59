/**
 * Lines of source per folder and the share that is comments, the house
 * style's line budget (tests and benchmarks left out). A comment line is a
 * non-blank line that starts with `//`, `/*`, `*` or `*\/`, in TypeScript or
 * in the WGSL it generates; a line with code and a trailing comment counts
 * as code.
 *
 * ```sh
 * deno run --allow-read bench/line_budget.ts [root]
 * ```
 */
import { join } from "node:path";

const SKIP = new Set(["node_modules", "tests", "bench", "runs", ".cache", ".git", ".ci"]);

function* sourceFiles(root: string, dir = ""): Generator<string> {
  for (const e of Deno.readDirSync(join(root, dir))) {
    const path = join(dir, e.name);
    if (e.isDirectory && !SKIP.has(e.name)) yield* sourceFiles(root, path);
    else if (e.isFile && e.name.endsWith(".ts")) yield path;
  }
}

/** Non-blank and comment lines of a source text. */
export function countLines(text: string): { lines: number; comments: number } {
  let lines = 0, comments = 0;
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    if (l === "") continue;
    lines++;
    if (/^(\/\/|\/\*|\*)/.test(l)) comments++;
  }
  return { lines, comments };
}

if (import.meta.main) {
  const root = Deno.args[0] ?? ".";
  const folders = new Map<string, { files: number; lines: number; comments: number }>();
  for (const file of sourceFiles(root)) {
    const folder = file.includes("/") ? file.split("/")[0] + "/" : file;
    const f = folders.get(folder) ?? { files: 0, lines: 0, comments: 0 };
    const n = countLines(Deno.readTextFileSync(join(root, file)));
    folders.set(folder, { files: f.files + 1, lines: f.lines + n.lines, comments: f.comments + n.comments });
  }
  const rows = [...folders.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = rows.reduce(
    (t, [, f]) => ({ files: t.files + f.files, lines: t.lines + f.lines, comments: t.comments + f.comments }),
    {
      files: 0,
      lines: 0,
      comments: 0,
    },
  );
  const pct = (f: { lines: number; comments: number }) => `${(100 * f.comments / f.lines).toFixed(1)}%`;
  console.log("| folder | files | lines | comment lines | comments |\n| --- | ---: | ---: | ---: | ---: |");
  for (const [name, f] of [...rows, ["all", total] as const]) {
    console.log(`| ${name} | ${f.files} | ${f.lines} | ${f.comments} | ${pct(f)} |`);
  }
}
