import assert from "node:assert/strict";
import { assertClose, gpuTest, randomArray, rng } from "../_util.ts";
import { guardedOutput } from "../_canary.ts";
import { copyKernel } from "../../kernels/copy.ts";
import { checkOp } from "./_check.ts";
import { poisonPool } from "./_poison.ts";
import { rt, Tensor, tidy } from "../../tensor/tensor.ts";
import { concat, slice, transpose } from "../../tensor/ops_shape.ts";

const strides = (s: number[]) => s.map((_, k) => s.slice(k + 1).reduce((a, b) => a * b, 1));
const coords = (i: number, shape: number[]) => strides(shape).map((st, k) => Math.floor(i / st) % shape[k]);
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Copies are exact; each gradient element is one seed value rounded to f32 (relative error <= 6e-8).
const EXACT = { rtol: 0, atol: 0 };
const SEED_ROUNDING = { rtol: 1e-7, atol: 1e-9 };

gpuTest("transpose() permutes axes exactly, and its gradient permutes back", async () => {
  const r = rng(51);
  // The last case keeps a contiguous innermost axis of 8: the vec4 copy.
  for (
    const [shape, perm] of [[[3, 5], [1, 0]], [[2, 3, 4, 5], [0, 2, 3, 1]], [[4, 1, 3], [2, 0, 1]], [[3, 2, 8], [
      1,
      0,
      2,
    ]]]
  ) {
    const out = perm.map((k) => shape[k]);
    await checkOp({
      name: `transpose [${shape}] by [${perm}]`,
      inputs: [{ data: randomArray(r, size(shape)), shape, grad: true }],
      op: ([t]) => transpose(t, perm),
      ref: ([v]) =>
        Float64Array.from({ length: size(out) }, (_, i) => {
          const c = coords(i, out);
          const src = new Array(shape.length);
          perm.forEach((k, j) => src[k] = c[j]);
          return v[src.reduce((a, x, k) => a + x * strides(shape)[k], 0)];
        }),
      tol: EXACT,
      gradTol: SEED_ROUNDING,
      rng: r,
    });
  }
});

gpuTest("slice() copies the region [start, end) with negative indices, gradient zero outside", async () => {
  const r = rng(52);
  const shape = [3, 6, 7];
  const start = [1, -4, 2], end = [3, 5, -1];
  const s = [1, 2, 2], e = [3, 5, 6];
  const out = e.map((v, k) => v - s[k]);
  await checkOp({
    name: "slice",
    inputs: [{ data: randomArray(r, size(shape)), shape, grad: true }],
    op: ([t]) => slice(t, start, end),
    ref: ([v]) =>
      Float64Array.from({ length: size(out) }, (_, i) => {
        const c = coords(i, out).map((x, k) => x + s[k]);
        return v[c.reduce((a, x, k) => a + x * strides(shape)[k], 0)];
      }),
    tol: EXACT,
    gradTol: SEED_ROUNDING,
    rng: r,
  });
});

gpuTest("concat() joins along any axis and hands each input its part of the gradient", async () => {
  const r = rng(53);
  for (const axis of [0, 1, -1]) {
    const shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]].map((sh, i) => {
      const a = axis < 0 ? 3 + axis : axis;
      return sh.map((d, k) => (k === a ? d + i * 2 - 1 : d));
    });
    const a = axis < 0 ? 3 + axis : axis;
    const out = [...shapes[0]];
    out[a] = shapes.reduce((t, sh) => t + sh[a], 0);
    await checkOp({
      name: `concat axis ${axis}`,
      inputs: shapes.map((sh) => ({ data: randomArray(r, size(sh)), shape: sh, grad: true })),
      op: (ts) => concat(ts, axis),
      ref: (vs) =>
        Float64Array.from({ length: size(out) }, (_, i) => {
          const c = coords(i, out);
          let j = 0, at = c[a];
          while (at >= shapes[j][a]) at -= shapes[j++][a];
          const cc = c.map((x, k) => (k === a ? at : x));
          return vs[j][cc.reduce((t, x, k) => t + x * strides(shapes[j])[k], 0)];
        }),
      tol: EXACT,
      gradTol: SEED_ROUNDING,
      rng: r,
    });
  }
});

gpuTest("transpose(), slice() and concat() keep i32 data intact", async () => {
  const r = rng(54);
  const data = Int32Array.from({ length: 24 }, () => r.int(2 ** 31) - 2 ** 30);
  poisonPool(24);
  const [t, s, c] = await Promise.all(
    tidy(() => {
      const x = Tensor.from(data, [2, 3, 4], "i32");
      return [transpose(x, [2, 0, 1]), slice(x, [1, 1, 0], [2, 3, 4]), concat([x, x], 1)];
    }).map((v) => v.toArray()),
  );
  assertClose(
    t,
    Array.from({ length: 24 }, (_, i) => {
      const [k, a, b] = coords(i, [4, 2, 3]);
      return data[a * 12 + b * 4 + k];
    }),
    EXACT,
    "i32 transpose",
  );
  assertClose(s, Array.from({ length: 8 }, (_, i) => data[12 + 4 + i]), EXACT, "i32 slice");
  assertClose(
    c,
    Array.from({ length: 48 }, (_, i) => {
      const [a, b, k] = coords(i, [2, 6, 4]);
      return data[a * 12 + (b % 3) * 4 + k];
    }),
    EXACT,
    "i32 concat",
  );
});

gpuTest(
  "the strided copy writes exactly its elements at an offset: guards before and after, gaps untouched",
  async () => {
    const r = rng(55), rtm = rt();
    // [shape, dstStrides] into a destination with gaps; the second case takes the vec4 path (inner 8, offsets % 4 = 0).
    const cases: [number[], number[], number][] = [[[3, 5], [7, 1], 9], [[2, 3, 8], [40, 12, 1], 4], [[4, 1, 3], [
      5,
      3,
      1,
    ], 1]];
    for (const [shape, dstStrides, dstOffset] of cases) {
      const n = size(shape);
      const span = dstOffset + shape.reduce((a, d, k) => a + (d - 1) * dstStrides[k], 0) + 1;
      const src = Float32Array.from(randomArray(r, n));
      const before = 16 + r.int(8) * 4, poison = new Float32Array(span + 3).fill(NaN);
      const out = guardedOutput(rtm, { before, data: poison, after: 64 });
      const x = rtm.upload(src);
      const p = { shape, srcOffset: 0, srcStrides: strides(shape), dstOffset: before + dstOffset, dstStrides };
      rtm.dispatch(copyKernel, p, [x, out.buffer]);
      await out.check();
      const got = await rtm.readF32(out.buffer, poison.length, before);
      const want = new Float32Array(poison.length).fill(NaN);
      for (let i = 0; i < n; i++) {
        want[dstOffset + coords(i, shape).reduce((a, c, k) => a + c * dstStrides[k], 0)] = src[i];
      }
      got.forEach((v, i) => assert.ok(Object.is(v, want[i]), `[${shape}] element ${i}: ${v}, expected ${want[i]}`));
      rtm.release(x);
      rtm.release(out.buffer);
    }
  },
);
