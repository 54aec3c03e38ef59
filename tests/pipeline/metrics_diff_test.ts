import assert from "node:assert/strict";
import { join } from "node:path";
import { diffMetrics, formatDiff, loadRunMetrics } from "../../pipeline/metrics_diff.ts";

async function fakeRun(dir: string, results: Record<string, Record<string, number>>) {
  await Deno.mkdir(dir, { recursive: true });
  const stages: Record<string, unknown> = { data: { outputs: { trainJson: "x.json" } } };
  for (const [id, res] of Object.entries(results)) {
    const metrics = join(dir, `${id}.json`);
    await Deno.writeTextFile(metrics, JSON.stringify({ results: res, per_category: [] }));
    stages[id] = { status: "done", outputs: { metrics } };
  }
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify({ stages }));
}

Deno.test("metrics diff pairs stages and metrics of two runs and prints b - a", async () => {
  const dir = await Deno.makeTempDir();
  const ap = () => 0.05 + Math.random() * 0.5;
  const a = { "eval[loss=bce]": { AP: ap(), APr: -1 }, "eval[loss=eqlv2]": { AP: ap(), APr: ap() } };
  const b = { "eval[loss=bce]": { AP: ap(), APr: ap() }, "eval[loss=eql]": { AP: ap() } };
  await fakeRun(join(dir, "a"), a);
  await fakeRun(join(dir, "b"), b);
  const rows = diffMetrics(await loadRunMetrics(join(dir, "a")), await loadRunMetrics(join(dir, "b")));
  assert.deepEqual(rows, [
    { stage: "eval[loss=bce]", metric: "AP", a: a["eval[loss=bce]"].AP, b: b["eval[loss=bce]"].AP },
    { stage: "eval[loss=bce]", metric: "APr", a: -1, b: b["eval[loss=bce]"].APr },
    { stage: "eval[loss=eqlv2]", metric: "AP", a: a["eval[loss=eqlv2]"].AP, b: undefined },
    { stage: "eval[loss=eqlv2]", metric: "APr", a: a["eval[loss=eqlv2]"].APr, b: undefined },
    { stage: "eval[loss=eql]", metric: "AP", a: undefined, b: b["eval[loss=eql]"].AP },
  ]);
  const text = formatDiff(rows).split("\n");
  assert.match(text[0], /^stage\s+metric\s+a \(%\)\s+b \(%\)\s+b - a$/);
  const pct = (v: number) => (100 * v).toFixed(2);
  const delta = b["eval[loss=bce]"].AP - a["eval[loss=bce]"].AP;
  assert.match(
    text[1],
    new RegExp(
      `^eval\\[loss=bce\\]\\s+AP\\s+${pct(a["eval[loss=bce]"].AP)}\\s+` +
        `${pct(b["eval[loss=bce]"].AP)}\\s+\\${delta >= 0 ? "+" : "-"}${pct(Math.abs(delta))}$`,
    ),
  );
  assert.match(text[2], /^eval\[loss=bce\]\s+APr\s+n\/a\s+\d+\.\d{2}$/);
  const file = await loadRunMetrics(join(dir, "a", "eval[loss=bce].json"));
  assert.deepEqual([...file], [["metrics", a["eval[loss=bce]"]]]);
  await assert.rejects(loadRunMetrics(join(dir, "none")), /Cannot read ".*none": no such run directory/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("metrics diff reads an eval stage's segmMetrics as its own row group", async () => {
  const dir = await Deno.makeTempDir();
  const box = { AP: 0.05 + Math.random() * 0.5 }, mask = { AP: 0.05 + Math.random() * 0.5 };
  const metrics = join(dir, "m.json"), segmMetrics = join(dir, "s.json");
  await Deno.writeTextFile(metrics, JSON.stringify({ results: box }));
  await Deno.writeTextFile(segmMetrics, JSON.stringify({ results: mask }));
  const stages = { "eval[loss=bce]": { status: "done", outputs: { metrics, segmMetrics } } };
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify({ stages }));
  assert.deepEqual([...await loadRunMetrics(dir)], [["eval[loss=bce]", box], ["eval[loss=bce] segm", mask]]);
  await Deno.remove(dir, { recursive: true });
});
