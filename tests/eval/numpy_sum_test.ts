import assert from "node:assert/strict";
import { numpySum, validMean } from "../../eval/mod.ts";
import { rng } from "./_util.ts";

// np.sum / np.mean of v[i] = ((i * 7919) % 10007) / 10007 * 0.1 + i * 1e-7, from numpy 1.24.2 (the
// fixtures' version): buffers of 8192 summed pairwise; a running sum differs in the last bits at most sizes.
const NUMPY: [number, number, number][] = [
  [5, 0.1913470577595683, 0.038269411551913664],
  [100, 5.016793590986309, 0.050167935909863084],
  [129, 6.4361308862995905, 0.0498924874906945],
  [1000, 50.08553509043669, 0.05008553509043669],
  [8192, 412.9680444923754, 0.05041113824369817],
  [8200, 413.355893987209, 0.05040925536429378],
  [9000, 454.0777502598182, 0.05045308336220202],
  [12345, 624.8429874425902, 0.05061506581146944],
  [20000, 1019.9081336064755, 0.05099540668032378],
  [24240, 1241.435637421405, 0.051214341477780735],
];

function values(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => ((i * 7919) % 10007) / 10007 * 0.1 + i * 1e-7);
}

Deno.test("numpySum() gives numpy 1.24's bits, buffers of 8192 and pairwise leaves included", () => {
  for (const [n, sum, mean] of NUMPY) {
    const v = values(n);
    assert.equal(numpySum(v), sum, `sum of ${n}`);
    assert.equal(validMean(v), mean, `mean of ${n}`);
  }
  // The test can fail: a running sum disagrees at these sizes (9000 and 12345 also catch a missing 8192 buffer).
  const naive = (n: number) => values(n).reduce((s, x) => s + x, 0);
  assert.notEqual(naive(1000), 50.08553509043669);
  assert.notEqual(naive(8200), 413.355893987209);
});

Deno.test("validMean() skips entries at -1 and returns -1 when none is valid", () => {
  const r = rng(11);
  const n = 50 + r.int(300);
  const v = Float64Array.from({ length: n }, () => (r.float() < 0.3 ? -1 : 0.001 + r.float()));
  const kept = v.filter((x) => x > -1);
  assert.equal(validMean(v), numpySum(kept) / kept.length);
  assert.equal(validMean(new Float64Array([-1, -1])), -1);
});
