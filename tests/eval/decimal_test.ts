import assert from "node:assert/strict";
import { decimalToDouble } from "../../eval/decimal.ts";
import { readResults } from "../../eval/mod.ts";
import { parseGroundTruth } from "../../eval/ground_truth.ts";
import { rng, SEED, tinyGt, writeCase } from "./_util.ts";

/** The decimal digits of a JSON number spelling as decimalToDouble takes them, or null past its range. */
function split(text: string): [number, number, number, number] | null {
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text)!;
  const digits = (m[1] + (m[2] ?? "")).replace(/^0+/, "");
  const exp = Number(m[3] ?? 0) - (m[2]?.length ?? 0);
  if (digits.length < 16 || digits.length > 19) return null;
  return [Number(digits.slice(0, 15)), Number(digits.slice(15)), digits.length - 15, exp];
}

Deno.test(`decimalToDouble() rounds 16-19 digit decimals as Number() does, or declines (seed ${SEED})`, () => {
  const r = rng(31);
  let decided = 0, tried = 0;
  const values: string[] = [], float32 = new Set<string>();
  for (let i = 0; i < 60000; i++) {
    const kind = r.int(4);
    const x = kind === 0
      ? Math.fround(r.uniform(0, 2000)) // detector boxes: float32 printed as a double
      : kind === 1
      ? Math.fround(r.float()) // float32 scores
      : kind === 2
      ? r.float() * 10 ** (r.int(30) - 15) // doubles over many magnitudes
      : Number((r.float() * 1000).toFixed(3)) + 1e-13 * r.int(5); // near round numbers
    values.push(String(x), x.toPrecision(16 + r.int(4)), x.toExponential(15 + r.int(4)));
    if (kind < 2) float32.add(String(x));
  }
  // Decimal midpoints between doubles: a 19-digit decimal can sit exactly there.
  for (let i = 0; i < 2000; i++) {
    const x = 1 + r.int(1 << 20) / 2 ** 20;
    const mid = x + 2 ** -53;
    values.push(mid.toPrecision(19), (mid * 2 ** -52 + 1).toPrecision(19));
  }
  for (const text of values) {
    const parts = split(text);
    if (!parts) continue;
    tried++;
    const v = decimalToDouble(...parts);
    // What detectors write must take this path; only midpoints and far exponents may decline.
    if (Number.isNaN(v)) {
      assert.ok(!float32.has(text), `declined ${text}`);
      continue;
    }
    decided++;
    assert.equal(v, Number(text), text);
  }
  assert.ok(tried > 100000 && decided > 0.8 * tried, `${decided} of ${tried} decided`);
});

Deno.test("readResults() reads detector-style 17-digit numbers exactly as JSON.parse does", async () => {
  const r = rng(32);
  const gtJson = tinyGt({ images: [{ id: 1 }], categories: [{ id: 1, frequency: "f" }], annotations: [] });
  const gt = parseGroundTruth(gtJson, "gt.json", false);
  const rows = Array.from({ length: 3000 }, () => ({
    image_id: 1,
    category_id: 1,
    bbox: [0, 0, 0, 0].map(() => Math.fround(r.uniform(0, 1500))),
    score: Math.fround(r.float()) * (r.float() < 0.1 ? 1e-9 : 1),
  }));
  const p = await writeCase(gtJson, rows);
  try {
    const dt = await readResults(p.dt, gt, { chunkBytes: 777 });
    rows.forEach((row, i) => {
      assert.equal(dt.score[i], row.score);
      assert.deepEqual(Array.from(dt.bbox.subarray(4 * i, 4 * i + 4)), row.bbox);
    });
  } finally {
    await Deno.remove(p.dir, { recursive: true });
  }
});
