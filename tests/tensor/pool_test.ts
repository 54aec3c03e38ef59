import { gpuTest, randomArray, rng } from "../_util.ts";
import { checkOp } from "./_check.ts";
import { avgPoolGlobal, maxPool2d, upsampleNearest2x } from "../../tensor/ops_nn.ts";

function maxPool64(
  x: Float64Array,
  [N, C, H, W]: number[],
  [KH, KW, sh, sw, ph, pw]: number[],
): Float64Array {
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1, OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  const y = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let m = -Infinity;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const ih = oh * sh - ph + kh, iw = ow * sw - pw + kw;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = Math.max(m, x[(p * H + ih) * W + iw]);
          }
        }
        y[(p * OH + oh) * OW + ow] = m;
      }
    }
  }
  return y;
}

gpuTest(
  "maxPool2d() matches float64 with overlapping, padded and strided windows, with and without relu, gradients included",
  async () => {
    const r = rng(21);
    // [kernel h, w, stride h, w, pad h, w] on awkward planes.
    const cases: [number[], number[]][] = [
      [[2, 3, 7, 9], [3, 3, 2, 2, 1, 1]],
      [[1, 2, 8, 6], [2, 2, 2, 2, 0, 0]],
      [[2, 1, 5, 11], [3, 2, 1, 3, 1, 0]],
      // Windows that tile the plane, 4 per vec4 (the tiled backward).
      [[2, 3, 6, 16], [2, 2, 2, 2, 0, 0]],
      [[1, 2, 9, 12], [3, 3, 3, 3, 0, 0]],
    ];
    for (const [shape, win] of cases) {
      for (const relu of [false, true]) {
        const x = randomArray(r, shape.reduce((a, b) => a * b, 1));
        // With relu: maxPool2d(relu(x)); random values in [-1, 1] leave some windows all negative.
        await checkOp({
          name: `maxPool2d [${shape}] window ${win}${relu ? " relu" : ""}`,
          inputs: [{ data: x, shape, grad: true }],
          op: ([t]) => maxPool2d(t, [win[0], win[1]], { stride: [win[2], win[3]], padding: [win[4], win[5]], relu }),
          ref: ([v]) => maxPool64(relu ? v.map((e) => Math.max(e, 0)) : v, shape, win),
          // A max copies one value exactly; gradients add at most KH*KW seed values in f32.
          tol: { rtol: 0, atol: 0 },
          gradTol: { rtol: 1e-5, atol: 1e-5 },
          eps: 1e-7,
          rng: r,
        });
      }
    }
  },
);

gpuTest("avgPoolGlobal() averages each plane, gradient spread evenly", async () => {
  const r = rng(22);
  const shape = [3, 5, 7, 9];
  await checkOp({
    name: "avgPoolGlobal",
    inputs: [{ data: randomArray(r, 3 * 5 * 7 * 9), shape, grad: true }],
    op: ([t]) => avgPoolGlobal(t),
    ref: ([v]) =>
      Float64Array.from({ length: 15 }, (_, p) => v.slice(p * 63, p * 63 + 63).reduce((a, b) => a + b) / 63),
    // f32 sum of 63 values in [-1, 1]: error well under 1e-6.
    tol: { rtol: 1e-5, atol: 1e-6 },
    gradTol: { rtol: 1e-5, atol: 1e-6 },
    rng: r,
  });
});

gpuTest(
  "avgPoolGlobal(x, { relu: true }) averages relu(x), planes of whole vec4s or not, gradient only where x > 0",
  async () => {
    const r = rng(24);
    for (const shape of [[3, 5, 7, 9], [2, 3, 4, 6], [1, 2, 1, 1]]) {
      const [N, C, H, W] = shape, hw = H * W;
      await checkOp({
        name: `avgPoolGlobal relu [${shape}]`,
        // Values in [-1, 1]: about half the pixels pass the relu. None within 1e-3 of the kink, where
        // a central difference of step 1e-5 is not the derivative (seed 455628806 drew one).
        inputs: [{
          data: randomArray(r, N * C * hw).map((v) => Math.sign(v) * Math.max(Math.abs(v), 1e-3)),
          shape,
          grad: true,
        }],
        op: ([t]) => avgPoolGlobal(t, { relu: true }),
        ref: ([v]) =>
          Float64Array.from(
            { length: N * C },
            (_, p) => v.slice(p * hw, (p + 1) * hw).reduce((a, b) => a + Math.max(b, 0), 0) / hw,
          ),
        // f32 sum of at most 63 values in [0, 1]: error well under 1e-6.
        tol: { rtol: 1e-5, atol: 1e-6 },
        gradTol: { rtol: 1e-5, atol: 1e-6 },
        rng: r,
      });
    }
  },
);

gpuTest("upsampleNearest2x() repeats each pixel into a 2x2 block and sums the block's gradient", async () => {
  const r = rng(23);
  const [N, C, H, W] = [2, 3, 5, 7];
  await checkOp({
    name: "upsampleNearest2x",
    inputs: [{ data: randomArray(r, N * C * H * W), shape: [N, C, H, W], grad: true }],
    op: ([t]) => upsampleNearest2x(t),
    ref: ([v]) =>
      Float64Array.from({ length: N * C * 4 * H * W }, (_, i) => {
        const x = i % (2 * W), y = Math.floor(i / (2 * W)) % (2 * H), p = Math.floor(i / (4 * H * W));
        return v[(p * H + (y >> 1)) * W + (x >> 1)];
      }),
    // Copies are exact; a gradient is a sum of 4 f32 values.
    tol: { rtol: 0, atol: 0 },
    gradTol: { rtol: 1e-6, atol: 1e-6 },
    rng: r,
  });
});
