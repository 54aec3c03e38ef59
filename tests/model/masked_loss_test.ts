import assert from "node:assert/strict";
import { assertClose, gpuTest, numericGrad, randomArray, read64, rng } from "../_util.ts";
import { poisonPool } from "../tensor/_poison.ts";
import { weightedSigmoidBce } from "../../model/masked_loss.ts";
import { backward } from "../../tensor/ops.ts";
import { Tensor, tidy } from "../../tensor/tensor.ts";

/** sum(w * BCE(x, t)) / max(norm, 1) in float64, BCE in its stable form. */
function weightedBce64(x: Float64Array, t: Float64Array, w: Float64Array, norm: number): number {
  let s = 0;
  x.forEach((v, i) => s += w[i] * (Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v)))));
  return s / Math.max(norm, 1);
}

gpuTest("weightedSigmoidBce() matches float64 and its hand-written backward every finite difference", async () => {
  const r = rng(91);
  // Anchors of a small RPN level; a count not a multiple of 4; a normaliser below 1 is clamped to 1.
  for (const [n, norm, upstream] of [[257, 37.5, 1], [30, 0.25, -2.5], [1, 3, 0.7]]) {
    // Logits up to +-12 (confident anchors), some sampled (weight 1 or fractional), most not (0).
    const x = randomArray(r, n, -12, 12).map(Math.fround);
    const t = Float64Array.from({ length: n }, () => r.float() < 0.3 ? 1 : 0);
    const w = Float64Array.from(
      { length: n },
      () => r.float() < 0.4 ? (r.float() < 0.5 ? 1 : Math.fround(r.float())) : 0,
    );
    if (n > 1) assert.ok(w.some((v) => v === 0) && w.some((v) => v > 0), "some anchors sampled, some not");
    const xt = Tensor.from(x, [n]).requireGrad();
    poisonPool(n);
    const loss = tidy(() => {
      const l = weightedSigmoidBce(xt, Tensor.from(t, [n]), Tensor.from(w, [n]), norm);
      backward(l, Tensor.from([upstream], []));
      return l;
    });
    const want = weightedBce64(x, t, w, norm);
    // A sum of n f32 terms of O(10): relative error ~ n * 6e-8 at worst.
    assertClose([await loss.item()], [want], { rtol: 2e-5, atol: 1e-7 }, `loss n=${n}`);
    // The backward is analytic in f32: sigma(x) - t, near t = 1, keeps sigma's absolute f32 error (up to
    // ~2 ulps of 1, 1.2e-7), scaled by the upstream gradient and 1 / norm. Differences: float64, eps 1e-6.
    const fd = numericGrad((v) => upstream * weightedBce64(v, t, w, norm), x, 1e-6);
    const tol = { rtol: 1e-5, atol: 1.2e-7 * Math.abs(upstream) / Math.max(norm, 1) };
    assertClose(await read64(xt.grad!), fd, tol, `d loss / d logits n=${n}`);
    for (const v of [xt.grad!, xt, loss]) v.dispose();
  }
});
