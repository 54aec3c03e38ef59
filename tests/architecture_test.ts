/**
 * The walls between folders, read from the import graph of every source
 * file: lower layers import nothing above them, the evaluator needs no GPU,
 * the pipeline knows no stage, mod.ts only re-exports, and no two folders
 * import each other. Each wall is also tested on a graph that breaks it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Not source: tests and benchmarks may import anything. */
const NOT_SOURCE = new Set(["node_modules", "tests", "bench", "runs", ".cache", ".git", ".ci"]);

/** Source file (relative to the root) -> the project files it imports. */
type Graph = Map<string, string[]>;

/** A wall: files under `from` import nothing under `not`, directly or (`transitive`) through other files. */
interface Wall {
  from: string[];
  not: string[];
  transitive?: boolean;
  why: string;
}

const WALLS: Wall[] = [
  {
    from: ["gpu"],
    not: ["kernels", "tensor", "model", "losses", "tasks", "pipeline"],
    why: "gpu/ is the bottom layer",
  },
  { from: ["kernels"], not: ["tensor", "model", "losses", "tasks", "pipeline"], why: "kernels sit on gpu/ only" },
  {
    from: ["eval"],
    not: ["gpu", "kernels", "tensor", "model", "losses"],
    transitive: true,
    why: "the evaluator runs without a GPU",
  },
  { from: ["model", "losses"], not: ["pipeline", "tasks"], why: "models and losses are libraries, not stages" },
  { from: ["pipeline"], not: ["tasks"], transitive: true, why: "the pipeline knows stages only through a registry" },
];

/** Every .ts source file under `root`, relative to it. */
function sourceFiles(root: string, dir = ""): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return NOT_SOURCE.has(e.name) ? [] : sourceFiles(root, path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

/** The relative module specifiers a source text imports, re-exports, or loads by URL (comments ignored). */
function importSpecifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").split("\n").filter((l) => !/^\s*\/\//.test(l)).join("\n");
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /new URL\(\s*["'`]([^"'`$]+\.ts)["'`]\s*,\s*import\.meta\.url/g,
  ];
  return patterns.flatMap((p) => [...code.matchAll(p)].map((m) => m[1])).filter((s) => s.startsWith("."));
}

function importGraph(root: string): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(root)) {
    const specs = importSpecifiers(readFileSync(join(root, file), "utf8"));
    graph.set(file, [...new Set(specs.map((s) => normalize(join(dirname(file), s))))]);
  }
  return graph;
}

/** The top folder of a file ("tasks"), or the file itself at the root ("mod.ts"). */
const folderOf = (file: string) => file.split("/")[0];

/** Files reachable from `file` (itself excluded), each with the chain of imports that reaches it. */
function reachable(graph: Graph, file: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue: [string, string[]][] = [[file, [file]]];
  while (queue.length) {
    const [at, chain] = queue.shift()!;
    for (const next of graph.get(at) ?? []) {
      if (seen.has(next) || next === file) continue;
      seen.set(next, [...chain, next]);
      queue.push([next, [...chain, next]]);
    }
  }
  return seen;
}

/** Each import that breaks a wall, as "a.ts -> b.ts (why)" with the chain for transitive walls. */
function wallViolations(graph: Graph, walls: Wall[]): string[] {
  const out: string[] = [];
  for (const wall of walls) {
    for (const file of graph.keys()) {
      if (!wall.from.includes(folderOf(file))) continue;
      const targets = wall.transitive
        ? [...reachable(graph, file).entries()]
        : (graph.get(file) ?? []).map((t) => [t, [file, t]] as [string, string[]]);
      for (const [target, chain] of targets) {
        if (wall.not.includes(folderOf(target))) out.push(`${chain.join(" -> ")} (${wall.why})`);
      }
    }
  }
  return out;
}

/** A cycle of top folders ("pipeline -> tasks -> pipeline") with the imports that close it, or null. */
function folderCycle(graph: Graph): string | null {
  const edges = new Map<string, Map<string, string>>();
  for (const [file, targets] of graph) {
    for (const t of targets) {
      const a = folderOf(file), b = folderOf(t);
      if (a === b || !graph.has(t)) continue;
      if (!edges.has(a)) edges.set(a, new Map());
      if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, `${file} -> ${t}`);
    }
  }
  const state = new Map<string, "open" | "done">();
  const visit = (folder: string, trail: string[]): string | null => {
    if (state.get(folder) === "done") return null;
    if (state.get(folder) === "open") {
      const cycle = [...trail.slice(trail.indexOf(folder)), folder];
      const via = cycle.slice(1).map((b, i) => edges.get(cycle[i])!.get(b));
      return `${cycle.join(" -> ")} (${via.join("; ")})`;
    }
    state.set(folder, "open");
    for (const next of edges.get(folder)?.keys() ?? []) {
      const found = visit(next, [...trail, folder]);
      if (found) return found;
    }
    state.set(folder, "done");
    return null;
  };
  for (const folder of edges.keys()) {
    const found = visit(folder, []);
    if (found) return found;
  }
  return null;
}

/** The statements of a barrel that are not re-exports (comments ignored). */
function nonReexports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const rest = code.replace(/export\s+(?:type\s+)?(?:\*|\{[^}]*\})\s+from\s+["'][^"']+["'];/g, "");
  return rest.split(";").map((s) => s.trim()).filter((s) => s !== "");
}

const graph = importGraph(ROOT);

Deno.test("the import graph covers every source folder and resolves every relative import", () => {
  for (const folder of ["core", "data", "eval", "gpu", "kernels", "losses", "model", "pipeline", "tasks", "tensor"]) {
    assert.ok([...graph.keys()].some((f) => folderOf(f) === folder), `no source file found in ${folder}/`);
  }
  const missing = [...graph].flatMap(([f, ts]) => ts.filter((t) => !graph.has(t)).map((t) => `${f} -> ${t}`));
  assert.deepEqual(missing, [], "imports of files that are not source files");
});

Deno.test("the walls between folders hold: lower layers, a GPU-free evaluator, a pipeline without stages", () => {
  assert.deepEqual(wallViolations(graph, WALLS), []);
});

Deno.test("no two source folders import each other, directly or round a longer cycle", () => {
  assert.equal(folderCycle(graph), null);
});

Deno.test("mod.ts only re-exports", () => {
  assert.deepEqual(nonReexports(readFileSync(join(ROOT, "mod.ts"), "utf8")), []);
});

Deno.test("the wall checks fail on graphs and barrels that break them", () => {
  const broken = (edges: Record<string, string[]>): Graph => new Map(Object.entries(edges));
  // A forbidden direct import, and one reached through an allowed file.
  assert.match(
    wallViolations(broken({ "gpu/runtime.ts": ["kernels/kernel.ts"], "kernels/kernel.ts": [] }), WALLS).join(),
    /gpu\/runtime\.ts -> kernels\/kernel\.ts \(gpu\/ is the bottom layer\)/,
  );
  assert.match(
    wallViolations(broken({ "eval/a.ts": ["core/b.ts"], "core/b.ts": ["tensor/t.ts"], "tensor/t.ts": [] }), WALLS)
      .join(),
    /eval\/a\.ts -> core\/b\.ts -> tensor\/t\.ts/,
  );
  assert.equal(
    wallViolations(broken({ "model/m.ts": ["pipeline/stage.ts"], "pipeline/stage.ts": [] }), WALLS).length,
    1,
  );
  assert.equal(
    folderCycle(broken({ "a/x.ts": ["b/y.ts"], "b/y.ts": ["c/z.ts"], "c/z.ts": ["a/x.ts"] })),
    "a -> b -> c -> a (a/x.ts -> b/y.ts; b/y.ts -> c/z.ts; c/z.ts -> a/x.ts)",
  );
  assert.deepEqual(
    nonReexports('/** doc */\nexport * from "./a.ts";\nexport { b, type C } from "./b.ts";\nconst x = 1;\n'),
    [
      "const x = 1",
    ],
  );
  assert.deepEqual(
    importSpecifiers(
      'import { a } from "./a.ts";\n// import { no } from "./no.ts";\nexport type {\n  B,\n} from "../b.ts";\nconst w = new URL("./w.ts", import.meta.url);\n',
    ),
    ["./a.ts", "../b.ts", "./w.ts"],
  );
});
