import { gpuTest, randomArray, rng } from "../_util.ts";
import { checkOp } from "./_check.ts";
import { convTranspose2d } from "../../tensor/ops_conv_transpose.ts";

/** Transposed convolution by its definition, in float64: every input pixel scatters w[i, o] scaled. */
function convTranspose64(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  [N, Cin, H, W]: number[],
  [Cout, k]: number[],
): Float64Array {
  const OH = H * k, OW = W * k, y = new Float64Array(N * Cout * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Cout; o++) {
      for (let i = 0; i < OH * OW; i++) y[(n * Cout + o) * OH * OW + i] = b ? b[o] : 0;
      for (let c = 0; c < Cin; c++) {
        for (let h = 0; h < H; h++) {
          for (let v = 0; v < W; v++) {
            const xv = x[((n * Cin + c) * H + h) * W + v];
            for (let dy = 0; dy < k; dy++) {
              for (let dx = 0; dx < k; dx++) {
                y[((n * Cout + o) * OH + h * k + dy) * OW + v * k + dx] += xv * w[((c * Cout + o) * k + dy) * k + dx];
              }
            }
          }
        }
      }
    }
  }
  return y;
}

gpuTest(
  "convTranspose2d() with kernel = stride matches float64, gradients to input, weight and bias included",
  async () => {
    const r = rng(61);
    // [N, Cin, H, W], [Cout, k]: odd sizes, one channel, k = 3, and Mask R-CNN's 2x2.
    const cases: [number[], number[], boolean][] = [
      [[2, 3, 5, 7], [4, 2], true],
      [[1, 5, 3, 2], [3, 3], true],
      [[3, 1, 4, 1], [1, 2], false],
      [[2, 6, 4, 6], [5, 2], true],
    ];
    for (const [xs, [Cout, k], withBias] of cases) {
      const ws = [xs[1], Cout, k, k];
      const x = randomArray(r, xs.reduce((a, c) => a * c, 1)), w = randomArray(r, ws.reduce((a, c) => a * c, 1));
      const b = randomArray(r, Cout);
      await checkOp({
        name: `convTranspose2d [${xs}] k=${k} to ${Cout}${withBias ? " with bias" : ""}`,
        inputs: [
          { data: x, shape: xs, grad: true },
          { data: w, shape: ws, grad: true },
          ...(withBias ? [{ data: b, shape: [Cout], grad: true }] : []),
        ],
        op: ([tx, tw, tb]) => convTranspose2d(tx, tw, { bias: tb ?? null }),
        ref: ([vx, vw, vb]) => convTranspose64(vx, vw, vb ?? null, xs, [Cout, k]),
        // Each output sums Cin products of values in [-1, 1] in f32: a few ulps of ~Cin.
        tol: { rtol: 1e-5, atol: 1e-5 },
        // Gradients sum up to N*H*W*k*k products; finite differences of a linear function are exact up to rounding.
        gradTol: { rtol: 1e-4, atol: 1e-4 },
        eps: 1e-3,
        rng: r,
      });
    }
  },
);
