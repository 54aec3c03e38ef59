import assert from "node:assert/strict";
import type { Results } from "../../eval/mod.ts";
import { selectResults } from "../../eval/select.ts";
import { rng } from "./_util.ts";

function fakeResults(image: number[], category: number[], score: number[]): Results {
  const n = score.length;
  return {
    file: "dt.json",
    count: n,
    image: Int32Array.from(image),
    category: Int32Array.from(category),
    score: Float64Array.from(score),
    bbox: new Float64Array(4 * n),
    hasBbox: new Uint8Array(n).fill(1),
    segmentation: null,
  };
}

/** The reference's rule, written plainly: per group, a stable sort by score, descending, then the first k. */
function keptByStableSort(group: number[], score: number[], k: number): Set<number> {
  const kept = new Set<number>();
  const byGroup = new Map<number, number[]>();
  group.forEach((g, i) => byGroup.set(g, [...(byGroup.get(g) ?? []), i]));
  for (const idx of byGroup.values()) {
    idx.sort((a, b) => score[b] - score[a]).slice(0, k).forEach((i) => kept.add(i));
  }
  return kept;
}

Deno.test("selectResults() keeps per image the same results as a stable sort, ties on the cut included", () => {
  const r = rng(41);
  for (let trial = 0; trial < 20; trial++) {
    const n = 50 + r.int(400), images = 1 + r.int(6), cap = 1 + r.int(60);
    const image = Array.from({ length: n }, () => r.int(images));
    const category = Array.from({ length: n }, () => r.int(5) - 1);
    // A coarse grid makes many ties, some straddling the cut.
    const score = Array.from({ length: n }, () => 0.05 + r.int(8) / 10);
    const sel = selectResults(fakeResults(image, category, score), images, 4, { maxDets: cap, detsPerCat: -1 });
    const want = keptByStableSort(image, score, cap);
    assert.deepEqual(
      Array.from(sel.keep, (v, i) => (v ? i : -1)).filter((i) => i >= 0),
      [...want].sort((a, b) => a - b),
    );
    assert.equal(sel.keptCount, want.size);
  }
});

Deno.test("selectResults() AP-fixed keeps the top k per category over the whole file", () => {
  const r = rng(42);
  const n = 300 + r.int(300), k = 5 + r.int(30);
  const category = Array.from({ length: n }, () => r.int(7) - 1);
  const score = Array.from({ length: n }, () => 0.01 + r.int(20) / 25);
  const image = Array.from({ length: n }, () => r.int(3));
  const sel = selectResults(fakeResults(image, category, score), 3, 6, { maxDets: -1, detsPerCat: k });
  const want = keptByStableSort(category, score, k);
  assert.deepEqual(Array.from(sel.keep, (v, i) => (v ? i : -1)).filter((i) => i >= 0), [...want].sort((a, b) => a - b));
  // The reference lists the best of the first result's category first.
  const firstCat = category[0];
  const best = score.reduce((b, s, i) => (category[i] === firstCat && s > score[b] ? i : b), 0);
  assert.equal(sel.first, best);
});
