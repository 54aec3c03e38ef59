import { gpuTest, randomArray, rng } from "../_util.ts";
import { checkOp } from "./_check.ts";
import { logSoftmax, softmax } from "../../tensor/ops_nn.ts";

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
