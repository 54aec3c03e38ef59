/**
 * The README's comparison tables from a finished `pipelines/bench.yaml` or `pipelines/compare.yaml`
 * run directory: one row per method and seed (mask AP, APr, APc and APf first where the run
 * evaluated masks, then box AP, AP50, APr, APc, APf, AR@300, training minutes) and a mean row per
 * method. A method is the loss of an `eval[...]` stage, the suffix of an
 * `eval_rfs[...]` stage, or the `method` of an `eval_retrain[...]` one; its training time is its
 * producer's (`train`, `rfs`, `retrain`; re-training adds the first stage it started from).
 *
 *   deno run --allow-read bench/loss_table.ts [runs/bench]
 *
 * @module
 */

const METRICS = ["AP", "AP50", "APr", "APc", "APf", "AR@300"] as const;
/** Mask metrics shown before the box ones, as the papers lead with mask AP. */
const MASK_METRICS = ["AP", "APr", "APc", "APf"] as const;
type Metric = string;

/** Methods in the EQL v2 paper's order: baselines, end-to-end losses, decoupled methods, BAGS. */
const ORDER = ["bce", "ce", "eql", "eqlv2", "rfs", "crt", "lws", "tau-norm", "bags"];

interface Row {
  loss: string;
  seed: string;
  values: Record<Metric, number>;
  trainSeconds?: number;
}

function readJson(path: string): unknown {
  return JSON.parse(Deno.readTextFileSync(path));
}

type ManifestStage = { kind?: string; seconds?: number; outputs?: Record<string, unknown> };

/** A stage's run time: the manifest's, or for a stage this run skipped, the record it left when it ran. */
function stageSeconds(stage: ManifestStage | undefined): number | undefined {
  if (stage?.seconds !== undefined) return stage.seconds;
  const dir = stage?.outputs?.model;
  if (typeof dir !== "string") return undefined;
  try {
    const seconds = (readJson(`${dir}/_stage.json`) as { seconds?: unknown }).seconds;
    return typeof seconds === "number" ? seconds : undefined;
  } catch {
    return undefined;
  }
}

/** Reads every `eval[...]` and `eval_<producer>[...]` stage of a run directory. */
export function collectRows(runDir: string): Row[] {
  const manifest = readJson(`${runDir}/manifest.json`) as { stages: Record<string, ManifestStage> };
  const rows: Row[] = [];
  for (const [name, stage] of Object.entries(manifest.stages)) {
    const m = /^eval(?:_([a-z0-9]+))?\[([^\]]+)\]$/.exec(name);
    const metricsPath = stage.outputs?.metrics;
    if (!m || typeof metricsPath !== "string") continue;
    const matrix = Object.fromEntries(m[2].split(",").map((kv) => kv.split("=")));
    const results = (readJson(metricsPath) as { results: Record<string, number> }).results;
    const values: Record<Metric, number> = Object.fromEntries(METRICS.map((k) => [`box ${k}`, results[k]]));
    const segmPath = stage.outputs?.segmMetrics;
    if (typeof segmPath === "string") {
      const segm = (readJson(segmPath) as { results: Record<string, number> }).results;
      for (const k of MASK_METRICS) values[`mask ${k}`] = segm[k];
    }
    const producer = manifest.stages[`${m[1] ?? "train"}[${m[2]}]`];
    let trainSeconds = stageSeconds(producer);
    if (producer?.kind === "retrain" && trainSeconds !== undefined) {
      const first = Object.entries(matrix).filter(([k]) => k !== "method").map(([k, v]) => `${k}=${v}`).join(",");
      const base = stageSeconds(manifest.stages[`train[${first}]`]);
      trainSeconds = base === undefined ? undefined : trainSeconds + base;
    }
    rows.push({ loss: matrix.method ?? m[1] ?? matrix.loss, seed: matrix.seed ?? "-", values, trainSeconds });
  }
  const rank = (loss: string) => (ORDER.includes(loss) ? ORDER.indexOf(loss) : ORDER.length);
  rows.sort((a, b) => (rank(a.loss) - rank(b.loss)) || a.loss.localeCompare(b.loss) || a.seed.localeCompare(b.seed));
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

/** Markdown: per-seed rows, then mean ± sample standard deviation per method, in percent; training minutes. */
export function markdownTable(rows: Row[]): string {
  const masks = rows.some((r) => "mask AP" in r.values);
  const columns = [...(masks ? MASK_METRICS.map((k) => `mask ${k}`) : []), ...METRICS.map((k) => `box ${k}`)];
  const pct = (x: number | undefined) => (x === undefined ? "-" : (100 * x).toFixed(2));
  const minutes = (xs: (number | undefined)[]) =>
    xs.every((x) => x !== undefined) ? (mean(xs as number[]) / 60).toFixed(1) : "-";
  const lines = [
    `| method | seed | ${columns.join(" | ")} | training (min) |`,
    `| --- | --- | ${columns.map(() => "---").join(" | ")} | --- |`,
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.loss} | ${r.seed} | ${columns.map((k) => pct(r.values[k])).join(" | ")} | ${minutes([r.trainSeconds])} |`,
    );
  }
  const losses = [...new Set(rows.map((r) => r.loss))];
  for (const loss of losses) {
    const group = rows.filter((r) => r.loss === loss);
    const cells = columns.map((k) => {
      const xs = group.map((r) => r.values[k]);
      if (xs.some((x) => x === undefined)) return "-";
      return `**${pct(mean(xs))}** ± ${pct(std(xs))}`;
    });
    const time = minutes(group.map((r) => r.trainSeconds));
    lines.push(`| **${loss}** | mean of ${group.length} | ${cells.join(" | ")} | ${time} |`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const runDir = Deno.args[0] ?? "runs/bench";
  const rows = collectRows(runDir);
  if (rows.length === 0) {
    console.error(`${runDir}/manifest.json: no finished eval[...] stages`);
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
