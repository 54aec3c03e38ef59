import { gpuTest, randomArray, rng } from "../_util.ts";
import { checkPart } from "./_part_check.ts";
import { layerConv64, layerConvGnRelu64, layerGn64, linear64 } from "./_ref64.ts";
import { conv, convGnRelu, gn, linear } from "../../model/layers.ts";

// f32 convolutions of <= 54 products and group norms of <= 120 values, outputs O(1): measured
// errors up to 3e-7 relative. Gradients: f32 sums of as many terms against float64 central
// differences (eps 1e-6, truncation ~1e-12): measured up to 5e-7 relative, 1e-7 of the largest
// entry. Both bounds leave a factor of 10.
const TOL = { rtol: 1e-5, atol: 2e-6 };
const GRAD = { rtol: 1e-5, scaledAtol: 1e-5 };

gpuTest("conv() layer: same padding, stride 1 and 2, with and without bias; every gradient entry", async () => {
  const r = rng(71);
  const cases = [
    { cin: 3, cout: 5, k: 3, stride: 1, bias: true },
    { cin: 4, cout: 6, k: 3, stride: 2, bias: false },
    { cin: 6, cout: 3, k: 1, stride: 2, bias: true },
  ];
  for (const s of cases) {
    await checkPart({
      name: `conv ${JSON.stringify(s)}`,
      input: { data: randomArray(r, 2 * s.cin * 7 * 6), shape: [2, s.cin, 7, 6] },
      gpu: (ps, x) => conv(ps, "c", x, s),
      ref: (ps, x) => layerConv64(ps, "c", x, s),
      rng: r,
      tol: TOL,
      gradTol: GRAD,
    });
  }
});

gpuTest("gn() and convGnRelu() layers match float64, every gradient entry", async () => {
  const r = rng(72);
  await checkPart({
    name: "gn 6 channels, 3 groups",
    input: { data: randomArray(r, 2 * 6 * 5 * 4, -2, 3), shape: [2, 6, 5, 4] },
    gpu: (ps, x) => gn(ps, "g", x, 6, 3),
    ref: (ps, x) => layerGn64(ps, "g", x, 3),
    rng: r,
    tol: TOL,
    gradTol: GRAD,
  });
  const s = { cin: 3, cout: 4, k: 3, stride: 2 };
  await checkPart({
    name: "convGnRelu 3 -> 4 stride 2, 2 groups",
    input: { data: randomArray(r, 3 * 9 * 8), shape: [1, 3, 9, 8] },
    gpu: (ps, x) => convGnRelu(ps, "b", "b.norm", x, s, 2),
    ref: (ps, x) => layerConvGnRelu64(ps, "b", "b.norm", x, s, 2),
    rng: r,
    tol: TOL,
    gradTol: GRAD,
  });
});

gpuTest("linear() layer matches float64, every gradient entry", async () => {
  const r = rng(73);
  for (const [n, din, dout] of [[5, 7, 3], [9, 16, 12]]) {
    await checkPart({
      name: `linear ${n} x ${din} -> ${dout}`,
      input: { data: randomArray(r, n * din), shape: [n, din] },
      gpu: (ps, x) => linear(ps, "fc", x, { din, dout }),
      ref: (ps, x) => linear64(x, ps.get("fc.weight")!, ps.get("fc.bias")!),
      rng: r,
      tol: TOL,
      gradTol: GRAD,
    });
  }
});
