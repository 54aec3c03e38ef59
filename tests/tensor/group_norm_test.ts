/**
 * groupNorm() against float64, with every tolerance derived per element
 * from the float32 error of the sums the kernels take (the mean, the
 * squared deviations, the two backward reductions, the weight and bias
 * gradients), propagated to first order. A sum whose terms each pass
 * through at most h additions errs by at most gamma(h) sum|t|, gamma(h) =
 * h u / (1 - h u), u = 2^-24; the kernels' sums of n terms have 64 lanes
 * add ceil(n / 64) terms each, then a tree of 6 levels.
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest, numericGrad, randomArray, read64, rng } from "../_util.ts";
import { poisonPool } from "./_poison.ts";
import { groupNorm } from "../../tensor/ops_nn.ts";
import { backward } from "../../tensor/ops.ts";
import { Tensor, tidy } from "../../tensor/tensor.ts";

const U = 2 ** -24;
const gamma = (h: number) => h * U / (1 - h * U);
/** Additions a term of a kernel's n-term sum passes through, plus `ops` more roundings. */
const depth = (n: number, ops = 0) => Math.ceil(n / 64) + 6 + ops;
const EPS = 1e-5;

interface Case {
  N: number;
  C: number;
  HW: number;
  G: number;
  x: Float64Array;
  w: Float64Array;
  b: Float64Array;
  dy: Float64Array;
}

/** y, dx, dw, db in float64, and the float32 error bound of each element. */
function groupNorm64(c: Case) {
  const { N, C, HW, G, x, w, b, dy } = c;
  const M = (C / G) * HW, ch = (k: number, j: number) => (k % G) * (C / G) + Math.floor(j / HW);
  const y = new Float64Array(x.length), dx = new Float64Array(x.length);
  const dw = new Float64Array(C), db = new Float64Array(C);
  const yTol = new Float64Array(x.length), dxTol = new Float64Array(x.length);
  const dwTol = new Float64Array(C), dbTol = new Float64Array(C);
  const xhatTol = new Float64Array(x.length), xhat = new Float64Array(x.length);
  for (let k = 0; k < N * G; k++) {
    const o = k * M, idx = Array.from({ length: M }, (_, j) => o + j);
    const mean = idx.reduce((s, i) => s + x[i], 0) / M;
    const v = idx.reduce((s, i) => s + (x[i] - mean) ** 2, 0) / M;
    const r = 1 / Math.sqrt(v + EPS);
    const absMean = idx.reduce((s, i) => s + Math.abs(x[i]), 0) / M;
    const absDev = idx.reduce((s, i) => s + Math.abs(x[i] - mean), 0) / M;
    const maxDev = Math.max(...idx.map((i) => Math.abs(x[i] - mean)));
    // The statistics' errors: mean, deviations, variance, 1 / sqrt(var + eps).
    const dMean = gamma(depth(M, 1)) * absMean;
    const dDev = dMean + U * (maxDev + dMean);
    const dVar = gamma(depth(M, 3)) * v + 2 * absDev * dDev + dDev * dDev;
    const dRel = dVar / (2 * (v + EPS)) + 3 * U;
    let t0 = 0, t1 = 0, absA = 0, absAx = 0, absAdx = 0;
    for (const [j, i] of idx.entries()) {
      const d = x[i] - mean, cj = ch(k, j);
      xhat[i] = d * r;
      xhatTol[i] = (dDev + Math.abs(d) * dRel) * r + 2 * U * Math.abs(xhat[i]);
      y[i] = xhat[i] * w[cj] + b[cj];
      yTol[i] = Math.abs(w[cj]) * xhatTol[i] + 3 * U * (Math.abs(y[i]) + Math.abs(b[cj]));
      const a = dy[i] * w[cj];
      t0 += a / M;
      t1 += a * xhat[i] / M;
      absA += Math.abs(a) / M;
      absAx += Math.abs(a * xhat[i]) / M;
      absAdx += Math.abs(a) * xhatTol[i] / M;
    }
    const dT0 = gamma(depth(M, 2)) * absA, dT1 = gamma(depth(M, 3)) * absAx + absAdx;
    for (const [j, i] of idx.entries()) {
      const a = dy[i] * w[ch(k, j)];
      dx[i] = r * (a - t0 - xhat[i] * t1);
      const terms = Math.abs(a) + Math.abs(t0) + Math.abs(xhat[i] * t1);
      dxTol[i] = dRel * Math.abs(dx[i]) +
        r * (U * Math.abs(a) + dT0 + Math.abs(xhat[i]) * dT1 + xhatTol[i] * Math.abs(t1) + 4 * U * terms);
    }
  }
  // Per channel over N x HW terms.
  for (let n = 0; n < N; n++) {
    for (let cc = 0; cc < C; cc++) {
      for (let s = 0; s < HW; s++) {
        const i = (n * C + cc) * HW + s;
        dw[cc] += dy[i] * xhat[i];
        db[cc] += dy[i];
        dwTol[cc] += gamma(depth(N * HW, 2)) * Math.abs(dy[i] * xhat[i]) + Math.abs(dy[i]) * xhatTol[i];
        dbTol[cc] += gamma(depth(N * HW)) * Math.abs(dy[i]);
      }
    }
  }
  return { y, dx, dw, db, yTol, dxTol, dwTol, dbTol };
}

/** |got - want| <= tol elementwise, naming the first failure and how far over its bound it is. */
function assertWithin(got: ArrayLike<number>, want: Float64Array, tol: Float64Array, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol[i])) {
      throw new Error(`${what}[${i}] = ${got[i]}, expected ${want[i]}: error ${err} over the f32 bound ${tol[i]}`);
    }
  }
}

async function check(c: Case, what: string, affine: boolean): Promise<void> {
  const want = groupNorm64(c);
  // The float64 formulas against central differences of the float64 forward (eps 1e-6: ~1e-9 here).
  const loss = (xs: Float64Array, ws: Float64Array, bs: Float64Array) =>
    groupNorm64({ ...c, x: xs, w: ws, b: bs }).y.reduce((s, v, i) => s + v * c.dy[i], 0);
  const FD = { rtol: 1e-6, atol: 1e-7 };
  assertClose(want.dx, numericGrad((v) => loss(v, c.w, c.b), c.x.slice(), 1e-6), FD, `${what} float64 dx`);
  assertClose(want.dw, numericGrad((v) => loss(c.x, v, c.b), c.w.slice(), 1e-6), FD, `${what} float64 dw`);
  assertClose(want.db, numericGrad((v) => loss(c.x, c.w, v), c.b.slice(), 1e-6), FD, `${what} float64 db`);
  const shape = [c.N, c.C, c.HW];
  const x = Tensor.from(c.x, shape).requireGrad();
  const w = Tensor.from(c.w, [c.C]).requireGrad(affine), b = Tensor.from(c.b, [c.C]).requireGrad(affine);
  poisonPool(c.x.length);
  poisonPool(c.C);
  const y = tidy(() => {
    const out = groupNorm(x, c.G, affine ? { weight: w, bias: b } : {});
    backward(out, Tensor.from(c.dy, shape));
    return out;
  });
  assertWithin(await read64(y), want.y, want.yTol, `${what} y`);
  assertWithin(await read64(x.grad!), want.dx, want.dxTol, `${what} dx`);
  if (affine) {
    assertWithin(await read64(w.grad!), want.dw, want.dwTol, `${what} dw`);
    assertWithin(await read64(b.grad!), want.db, want.dbTol, `${what} db`);
  }
  for (const t of [y, x, w, b, x.grad, w.grad, b.grad]) t?.dispose();
}

const f32s = (a: Float64Array) => a.map(Math.fround);

gpuTest(
  "groupNorm() matches float64 within the f32 error of its sums, for several group counts and shifts",
  async () => {
    const r = rng(31);
    // [N, C, H * W, groups, shift]; a mean far from zero (two-pass statistics must hold up), and groups
    // longer than the 64 lanes that share each sum.
    const cases = [[2, 6, 15, 3, 0], [1, 8, 49, 8, 0], [3, 4, 15, 1, 0], [2, 4, 12, 2, 50], [1, 4, 100, 2, -20]];
    for (const [N, C, HW, G, shift] of cases) {
      const c: Case = {
        N,
        C,
        HW,
        G,
        x: f32s(randomArray(r, N * C * HW).map((v) => v + shift)),
        w: f32s(randomArray(r, C, 0.5, 1.5)),
        b: f32s(randomArray(r, C)),
        dy: f32s(randomArray(r, N * C * HW)),
      };
      await check(c, `groupNorm [${N}, ${C}, ${HW}] G=${G} shift ${shift}`, true);
    }
  },
);

gpuTest("groupNorm() without weight and bias normalizes each group to zero mean and unit variance", async () => {
  const r = rng(32);
  const [N, C, HW, G] = [2, 6, 10, 2];
  const c: Case = {
    N,
    C,
    HW,
    G,
    x: f32s(randomArray(r, N * C * HW, -3, 5)),
    w: new Float64Array(C).fill(1),
    b: new Float64Array(C),
    dy: f32s(randomArray(r, N * C * HW)),
  };
  await check(c, "groupNorm without affine", false);
});
