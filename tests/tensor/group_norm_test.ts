import { gpuTest, randomArray, rng } from "../_util.ts";
import { checkOp } from "./_check.ts";
import { groupNorm } from "../../tensor/ops_nn.ts";

function groupNorm64(x: Float64Array, [N, C, HW]: number[], G: number, w: Float64Array, b: Float64Array, eps: number) {
  const y = new Float64Array(x.length);
  const M = (C / G) * HW;
  for (let k = 0; k < N * G; k++) {
    const seg = x.subarray(k * M, (k + 1) * M);
    const mean = seg.reduce((a, v) => a + v, 0) / M;
    const variance = seg.reduce((a, v) => a + (v - mean) ** 2, 0) / M;
    for (let j = 0; j < M; j++) {
      const c = (k % G) * (C / G) + Math.floor(j / HW);
      y[k * M + j] = (seg[j] - mean) / Math.sqrt(variance + eps) * w[c] + b[c];
    }
  }
  return y;
}

gpuTest("groupNorm() matches float64 for several group counts, with gradients of x, weight and bias", async () => {
  const r = rng(31);
  // [N, C, H, W, groups]; the last case has a mean far from zero (two-pass statistics must hold up).
  for (
    const [N, C, H, W, G, shift] of [[2, 6, 5, 3, 3, 0], [1, 8, 7, 7, 8, 0], [3, 4, 3, 5, 1, 0], [2, 4, 4, 3, 2, 50]]
  ) {
    const x = randomArray(r, N * C * H * W).map((v) => v + shift);
    await checkOp({
      name: `groupNorm [${N}, ${C}, ${H}, ${W}] G=${G}`,
      inputs: [
        { data: x, shape: [N, C, H, W], grad: true },
        { data: randomArray(r, C, 0.5, 1.5), shape: [C], grad: true },
        { data: randomArray(r, C), shape: [C], grad: true },
      ],
      op: ([t, w, b]) => groupNorm(t, G, { weight: w, bias: b }),
      ref: ([v, w, b]) => groupNorm64(v, [N, C, H * W], G, w, b, 1e-5),
      // Outputs are O(3); f32 statistics over <= 400 values are good to ~1e-6 relative (times |mean|/std when shifted).
      tol: { rtol: 1e-4, atol: shift ? 2e-3 : 2e-5 },
      // Central differences with eps 1e-3 on a smooth function: truncation ~1e-6; f32 rounding dominates.
      gradTol: { rtol: 1e-3, atol: shift ? 2e-2 : 2e-4 },
      eps: 1e-3,
      rng: r,
    });
  }
});

gpuTest("groupNorm() without weight and bias normalizes each group to zero mean and unit variance", async () => {
  const r = rng(32);
  const [N, C, HW, G] = [2, 6, 10, 2];
  await checkOp({
    name: "groupNorm without affine",
    inputs: [{ data: randomArray(r, N * C * HW, -3, 5), shape: [N, C, HW], grad: true }],
    op: ([t]) => groupNorm(t, G),
    ref: ([v]) => groupNorm64(v, [N, C, HW], G, new Float64Array(C).fill(1), new Float64Array(C), 1e-5),
    // As above, outputs O(3).
    tol: { rtol: 1e-4, atol: 2e-5 },
    gradTol: { rtol: 1e-3, atol: 2e-4 },
    eps: 1e-3,
    rng: r,
  });
});
