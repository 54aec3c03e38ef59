import { gpuTest, randomArray, rng } from "../_util.ts";
import { checkOp } from "./_check.ts";
import { logSoftmax, softmax, softmaxCrossEntropy } from "../../tensor/ops_nn.ts";
import { Tensor } from "../../tensor/tensor.ts";
import assert from "node:assert/strict";

function softmax64(x: Float64Array, D: number, log: boolean): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += D) {
    const row = x.subarray(b, b + D);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    for (let j = 0; j < D; j++) y[b + j] = log ? row[j] - lse : Math.exp(row[j] - lse);
  }
  return y;
}

gpuTest("softmax() and logSoftmax() match float64 over the last axis, gradients included", async () => {
  const r = rng(41);
  // Large logits (scale 40) check the max subtraction; D = 1 is the degenerate row.
  for (const [shape, scale] of [[[3, 7], 1], [[2, 3, 13], 4], [[5, 1], 1], [[4, 9], 40]] as [number[], number][]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const D = shape[shape.length - 1];
    for (const log of [false, true]) {
      await checkOp({
        name: `${log ? "logSoftmax" : "softmax"} [${shape}] scale ${scale}`,
        inputs: [{ data: randomArray(r, n, -scale, scale), shape, grad: true }],
        op: ([t]) => (log ? logSoftmax(t) : softmax(t)),
        ref: ([v]) => softmax64(v, D, log),
        // f32 exp/log are good to a few ulp; log-softmax values reach ~2 * scale, so atol scales with it.
        tol: { rtol: 1e-5, atol: 2e-6 * scale },
        // eps 1e-4 on a smooth function: truncation ~1e-8; f32 rounding of outputs ~1e-6 * scale.
        gradTol: { rtol: 1e-4, atol: 1e-5 * scale },
        eps: 1e-4,
        rng: r,
      });
    }
  }
});

/** Mean over rows of -sum_j t[j] * logSoftmax(x)[j], in float64. */
function crossEntropy64(x: Float64Array, t: Float64Array, D: number): Float64Array {
  const logp = softmax64(x, D, true);
  let s = 0;
  for (let i = 0; i < x.length; i++) s -= t[i] * logp[i];
  return Float64Array.of(s / (x.length / D));
}

gpuTest("softmaxCrossEntropy() matches float64, gradients to logits and targets included", async () => {
  const r = rng(42);
  // Soft targets that do not sum to 1 check the sum(T) factor of the gradient; one-hot rows the usual case;
  // scale 40 the max subtraction; D = 1 the degenerate row.
  const cases: [number[], number, boolean][] = [[[8, 10], 3, true], [[5, 7], 1, false], [[2, 3, 13], 40, false], [
    [4, 1],
    1,
    false,
  ]];
  for (const [shape, scale, oneHot] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const D = shape[shape.length - 1];
    const t = oneHot
      ? Float64Array.from({ length: n }, (_, i) => (i % D === (Math.floor(i / D) * 3) % D ? 1 : 0))
      : randomArray(r, n, 0.05, 1);
    await checkOp({
      name: `softmaxCrossEntropy [${shape}] scale ${scale}${oneHot ? " one-hot" : ""}`,
      inputs: [{ data: randomArray(r, n, -scale, scale), shape, grad: true }, { data: t, shape, grad: !oneHot }],
      op: ([x, y]) => softmaxCrossEntropy(x, y),
      ref: ([x, y]) => crossEntropy64(x, y, D),
      // A mean of row sums of D terms up to ~2 * scale: f32 rounding ~1e-6 relative to that.
      tol: { rtol: 1e-5, atol: 4e-6 * scale * D },
      gradTol: { rtol: 1e-4, atol: 1e-5 * scale },
      eps: 1e-4,
      rng: r,
    });
  }
});

gpuTest("softmaxCrossEntropy() refuses logits and targets of different shapes", () => {
  const x = Tensor.from(new Float64Array(6), [2, 3]), y = Tensor.from(new Float64Array(6), [3, 2]);
  assert.throws(() => softmaxCrossEntropy(x, y), /one shape.*\[2, 3\] and \[3, 2\]/);
  x.dispose();
  y.dispose();
});
