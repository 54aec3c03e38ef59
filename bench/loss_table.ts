/**
 * The README's loss comparison table from a finished `pipelines/bench.yaml` run directory:
 * one row per loss and seed (AP, AP50, APr, APc, APf, AR@300) and a mean row per loss.
 *
 *   deno run --allow-read bench/loss_table.ts [runs/bench]
 *
 * @module
 */

const METRICS = ["AP", "AP50", "APr", "APc", "APf", "AR@300"] as const;
type Metric = typeof METRICS[number];

interface Row {
  loss: string;
  seed: string;
  values: Record<Metric, number>;
  trainSeconds?: number;
}

function readJson(path: string): unknown {
  return JSON.parse(Deno.readTextFileSync(path));
}

/** Reads every `eval[loss=X,seed=N]` stage of a run directory. */
export function collectRows(runDir: string): Row[] {
  const manifest = readJson(`${runDir}/manifest.json`) as {
    stages: Record<string, { status?: string; seconds?: number; outputs?: Record<string, unknown> }>;
  };
  const rows: Row[] = [];
  for (const [name, stage] of Object.entries(manifest.stages)) {
    const m = /^eval\[loss=([^,\]]+)(?:,seed=([^\]]+))?\]$/.exec(name);
    if (!m) continue;
    const metricsPath = stage.outputs?.metrics;
    if (typeof metricsPath !== "string") continue;
    const results = (readJson(metricsPath) as { results: Record<string, number> }).results;
    const values = Object.fromEntries(METRICS.map((k) => [k, results[k]])) as Record<Metric, number>;
    const seed = m[2] ?? "-";
    const train = manifest.stages[m[2] === undefined ? `train[loss=${m[1]}]` : `train[loss=${m[1]},seed=${seed}]`];
    rows.push({ loss: m[1], seed, values, trainSeconds: train?.seconds });
  }
  const order = ["bce", "eql", "eqlv2"];
  rows.sort((a, b) => (order.indexOf(a.loss) - order.indexOf(b.loss)) || a.seed.localeCompare(b.seed));
  return rows;
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Markdown: per-seed rows, then mean ± sample standard deviation per loss, in percent. */
export function markdownTable(rows: Row[]): string {
  const pct = (x: number) => (100 * x).toFixed(2);
  const lines = [
    `| loss | seed | ${METRICS.join(" | ")} |`,
    `| --- | --- | ${METRICS.map(() => "---").join(" | ")} |`,
  ];
  for (const r of rows) lines.push(`| ${r.loss} | ${r.seed} | ${METRICS.map((k) => pct(r.values[k])).join(" | ")} |`);
  const losses = [...new Set(rows.map((r) => r.loss))];
  for (const loss of losses) {
    const group = rows.filter((r) => r.loss === loss);
    const cells = METRICS.map((k) => {
      const xs = group.map((r) => r.values[k]);
      return `**${pct(mean(xs))}** ± ${pct(std(xs))}`;
    });
    lines.push(`| **${loss}** | mean of ${group.length} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const runDir = Deno.args[0] ?? "runs/bench";
  const rows = collectRows(runDir);
  if (rows.length === 0) {
    console.error(`${runDir}/manifest.json: no finished eval[loss=...] stages`);
    Deno.exit(1);
  }
  console.log(markdownTable(rows));
  const secs = rows.map((r) => r.trainSeconds).filter((s): s is number => typeof s === "number");
  if (secs.length > 0) {
    console.log(
      `\ntraining time per run: ${(Math.min(...secs) / 60).toFixed(1)}-${(Math.max(...secs) / 60).toFixed(1)} min`,
    );
  }
}
