// Headline metrics as a terminal table: mask AP first where evaluated, then box; percent, n/a for empty groups.

export interface SummaryRun {
  name: string;
  box: Record<string, number>;
  mask?: Record<string, number>;
}

const METRICS = ["AP", "APr", "APc", "APf"];

function _cell(v: number | undefined): string {
  return v === undefined ? "" : v < 0 ? "n/a" : (100 * v).toFixed(1);
}

export function summaryTable(runs: SummaryRun[]): string {
  const withMask = runs.some((r) => r.mask);
  const groups: [string, (r: SummaryRun) => Record<string, number> | undefined][] = withMask
    ? [["mask", (r) => r.mask], ["box", (r) => r.box]]
    : [["box", (r) => r.box]];
  const header = ["run", ...groups.flatMap(([g]) => METRICS.map((m, i) => i === 0 ? `${g} ${m}` : m))];
  const rows = runs.map((r) => [r.name, ...groups.flatMap(([, of]) => METRICS.map((m) => _cell(of(r)?.[m])))]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) =>
    cells.map((s, c) => c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
