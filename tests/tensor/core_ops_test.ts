import { assertClose, gpuTest, randomArray, read64, rng } from "../_util.ts";
import { Tensor, tidy } from "../../tensor/tensor.ts";
import { checkOp } from "./_check.ts";
import { add, addRelu, backward, matmul, max, mean, mul, relu, sigmoid, sum } from "../../tensor/ops.ts";

function matmul64(
  a: Float64Array,
  b: Float64Array,
  o: { batch: number; M: number; N: number; K: number; transA: boolean; transB: boolean; bA: boolean; bB: boolean },
): Float64Array {
  const c = new Float64Array(o.batch * o.M * o.N);
  for (let z = 0; z < o.batch; z++) {
    const ao = o.bA ? 0 : z * o.M * o.K, bo = o.bB ? 0 : z * o.K * o.N;
    for (let m = 0; m < o.M; m++) {
      for (let n = 0; n < o.N; n++) {
        let s = 0;
        for (let k = 0; k < o.K; k++) {
          const av = a[ao + (o.transA ? k * o.M + m : m * o.K + k)];
          const bv = b[bo + (o.transB ? n * o.K + k : k * o.N + n)];
          s += av * bv;
        }
        c[z * o.M * o.N + m * o.N + n] = s;
      }
    }
  }
  return c;
}

gpuTest("matmul() matches float64 for every transpose and awkward sizes", async () => {
  const r = rng(1);
  for (const [M, N, K] of [[1, 1, 1], [7, 13, 5], [33, 17, 65], [64, 9, 3]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (
          const [batch, bA, bB] of [[1, true, true], [3, false, false], [2, true, false], [2, false, true]] as const
        ) {
          const a = randomArray(r, (bA ? 1 : batch) * M * K);
          const b = randomArray(r, (bB ? 1 : batch) * K * N);
          const want = matmul64(a, b, { batch, M, N, K, transA, transB, bA, bB });
          const got = await tidy(() => {
            const ta = Tensor.from(a, bA ? (transA ? [K, M] : [M, K]) : (transA ? [batch, K, M] : [batch, M, K]));
            const tb = Tensor.from(b, bB ? (transB ? [N, K] : [K, N]) : (transB ? [batch, N, K] : [batch, K, N]));
            return matmul(ta, tb, { transA, transB });
          }).toArray();
          // f32 accumulation over K terms of size <= 1: error grows ~ sqrt(K) * 6e-8.
          assertClose(
            got,
            want,
            { rtol: 1e-5, atol: 1e-5 * Math.sqrt(K) },
            `matmul ${M}x${N}x${K} tA=${transA} tB=${transB}`,
          );
        }
      }
    }
  }
});

gpuTest("broadcast add, mul, relu, sigmoid and reductions match float64 with gradients", async () => {
  const r = rng(2);
  const a = randomArray(r, 3 * 5 * 4), b = randomArray(r, 5 * 1);
  // f(a, b) = sum(mean(sigmoid(relu(a + b) * a), axis 2) ) + sum(max(a, 1))
  const f64 = (av: Float64Array, bv: Float64Array) => {
    let s = 0;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 5; j++) {
        let m = 0;
        for (let k = 0; k < 4; k++) {
          const x = av[i * 20 + j * 4 + k];
          const y = Math.max(x + bv[j], 0) * x;
          m += 1 / (1 + Math.exp(-y)) / 4;
        }
        s += m;
      }
    }
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 4; k++) {
        let mx = -Infinity;
        for (let j = 0; j < 5; j++) mx = Math.max(mx, av[i * 20 + j * 4 + k]);
        s += mx;
      }
    }
    return s;
  };
  const ta = Tensor.from(a, [3, 5, 4]).requireGrad();
  const tb = Tensor.from(b, [5, 1]).requireGrad();
  const loss = tidy(() => {
    const y = sigmoid(mul(relu(add(ta, tb)), ta));
    const l = add(sum(mean(y, 2)), sum(max(ta, 1)));
    backward(l);
    return l;
  });
  assertClose([await loss.item()], [f64(a, b)], { rtol: 1e-5 }, "loss");
  const eps = 1e-6;
  const num = (x: Float64Array, i: number, other: () => number) => {
    const v = x[i];
    x[i] = v + eps;
    const p = other();
    x[i] = v - eps;
    const m = other();
    x[i] = v;
    return (p - m) / (2 * eps);
  };
  const ga = await read64(ta.grad!), gb = await read64(tb.grad!);
  const wantA = Array.from(a, (_, i) => num(a, i, () => f64(a, b)));
  const wantB = Array.from(b, (_, i) => num(b, i, () => f64(a, b)));
  // f32 forward vs f64 finite differences: 1e-4 relative covers rounding of the ~60 summed terms.
  assertClose(ga, wantA, { rtol: 1e-4, atol: 1e-5 }, "d/da");
  assertClose(gb, wantB, { rtol: 1e-4, atol: 1e-5 }, "d/db");
  for (const t of [ta, tb, loss, ta.grad!, tb.grad!]) t.dispose();
});

gpuTest("addRelu() and relu() match float64 with gradients, for residuals and a broadcast bias", async () => {
  const r = rng(5);
  // [a's shape, b's shape, elements of a per element of b in a run]: a residual of whole vec4s (the
  // vec4 kernel), a bias over the channels of odd planes, an odd residual (the generic map).
  const cases: [number[], number[], number][] = [
    [[2, 3, 4, 4], [2, 3, 4, 4], 1],
    [[2, 5, 3, 3], [5, 1, 1], 9],
    [[3, 7], [3, 7], 1],
  ];
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  for (const [as, bs, inner] of cases) {
    await checkOp({
      name: `addRelu [${as}] + [${bs}]`,
      inputs: [
        { data: randomArray(r, n(as)), shape: as, grad: true },
        { data: randomArray(r, n(bs)), shape: bs, grad: true },
      ],
      op: ([a, b]) => addRelu(a, b),
      ref: ([a, b]) => a.map((v, i) => Math.max(0, v + b[Math.floor(i / inner) % n(bs)])),
      tol: { rtol: 1e-6, atol: 1e-7 },
      // Away from the kink the gradient is exact; the bias's sums over a plane round in f32.
      gradTol: { rtol: 1e-5, atol: 1e-5 },
      eps: 1e-7,
      rng: r,
    });
  }
  await checkOp({
    name: "relu [5, 8]",
    inputs: [{ data: randomArray(r, 40), shape: [5, 8], grad: true }],
    op: ([a]) => relu(a),
    ref: ([a]) => a.map((v) => Math.max(0, v)),
    tol: { rtol: 0, atol: 0 },
    gradTol: { rtol: 1e-6, atol: 1e-7 },
    eps: 1e-7,
    rng: r,
  });
});
