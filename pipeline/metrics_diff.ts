import { join } from "node:path";
import { InputError, quote } from "../core/errors.ts";

export interface MetricDelta {
  stage: string;
  metric: string;
  a: number | undefined;
  b: number | undefined;
}

/** Every `metrics` (and `segmMetrics`, as " segm") output in a run's manifest, or one metrics file. */
export async function loadRunMetrics(path: string): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new InputError(`Cannot read ${quote(path)}: no such run directory or metrics file`);
  }
  if (info.isFile) {
    out.set("metrics", await _results(path));
    return out;
  }
  const manifestPath = join(path, "manifest.json");
  let manifest: { stages?: Record<string, { outputs?: Record<string, unknown> }> };
  try {
    manifest = JSON.parse(await Deno.readTextFile(manifestPath));
  } catch (e) {
    throw new InputError(`Cannot read ${quote(manifestPath)}: ${(e as Error).message}`);
  }
  for (const [id, stage] of Object.entries(manifest.stages ?? {})) {
    const metrics = stage.outputs?.metrics, segm = stage.outputs?.segmMetrics;
    if (typeof metrics === "string") out.set(id, await _results(metrics));
    if (typeof segm === "string") out.set(`${id} segm`, await _results(segm));
  }
  return out;
}

export function diffMetrics(
  a: Map<string, Record<string, number>>,
  b: Map<string, Record<string, number>>,
): MetricDelta[] {
  const rows: MetricDelta[] = [];
  for (const stage of [...new Set([...a.keys(), ...b.keys()])]) {
    const ra = a.get(stage) ?? {}, rb = b.get(stage) ?? {};
    for (const metric of [...new Set([...Object.keys(ra), ...Object.keys(rb)])]) {
      rows.push({ stage, metric, a: ra[metric], b: rb[metric] });
    }
  }
  return rows;
}

/** Deltas in percent; -1 (no category with ground truth) prints as n/a. */
export function formatDiff(rows: MetricDelta[]): string {
  const show = (v: number | undefined) => (v === undefined || v < 0 ? "n/a" : (100 * v).toFixed(2));
  const lines = [["stage", "metric", "a (%)", "b (%)", "b - a"]];
  for (const r of rows) {
    const delta = r.a !== undefined && r.b !== undefined && r.a >= 0 && r.b >= 0 ? r.b - r.a : undefined;
    lines.push([r.stage, r.metric, show(r.a), show(r.b), delta === undefined ? "" : _signed(delta)]);
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) => l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd())
    .join("\n");
}

async function _results(path: string): Promise<Record<string, number>> {
  let json: { results?: Record<string, unknown> };
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new InputError(`Cannot read metrics ${quote(path)}: ${(e as Error).message}`);
  }
  if (!json.results || typeof json.results !== "object") {
    throw new InputError(`Cannot read "results" in ${quote(path)}: expected an object of metrics`);
  }
  return Object.fromEntries(Object.entries(json.results).filter(([, v]) => typeof v === "number")) as Record<
    string,
    number
  >;
}

function _signed(v: number): string {
  return (v >= 0 ? "+" : "") + (100 * v).toFixed(2);
}
