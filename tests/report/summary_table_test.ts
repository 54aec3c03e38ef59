import assert from "node:assert/strict";
import { summaryTable } from "../../report/summary_table.ts";
import { rng } from "../_util.ts";

Deno.test("summaryTable puts mask AP first, in percent, aligned, n/a for a group without ground truth", () => {
  const r = rng(5);
  const draw = () => Object.fromEntries(["AP", "APr", "APc", "APf"].map((k) => [k, r.uniform(0.01, 0.5)]));
  const runs = [
    { name: "bce", box: { ...draw(), APr: -1 }, mask: draw() },
    { name: "eqlv2-long-name", box: draw(), mask: draw() },
  ];
  const lines = summaryTable(runs).split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^run\s+mask AP\s+APr\s+APc\s+APf\s+box AP\s+APr\s+APc\s+APf$/);
  for (const [i, run] of runs.entries()) {
    const cells = lines[i + 1].trim().split(/\s+/);
    assert.equal(cells[0], run.name);
    const want = [run.mask, run.box].flatMap((m) =>
      ["AP", "APr", "APc", "APf"].map((k) => m[k] < 0 ? "n/a" : (100 * m[k]).toFixed(1))
    );
    assert.deepEqual(cells.slice(1), want);
  }
  // Right-aligned under their headers: every line ends in the same column.
  assert.equal(new Set(lines.map((l) => l.length)).size, 1);
});

Deno.test("summaryTable without masks has box columns only", () => {
  const t = summaryTable([{ name: "eql", box: { AP: 0.123, APr: 0.0, APc: 0.1, APf: 0.2 } }]);
  assert.equal(t, "run  box AP  APr   APc   APf\neql    12.3  0.0  10.0  20.0");
});
