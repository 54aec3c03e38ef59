/** Shape ops that move data, each a strided copy (kernels/copy.ts); `reshape`, a view, is in ops.ts. */
import { copyKernel } from "../kernels/copy.ts";
import { contiguousStrides, zeros } from "./ops.ts";
import { record } from "./autograd.ts";
import { rt, type Shape, Tensor } from "./tensor.ts";

function axisOf(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${what}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

function copyInto(src: Tensor, dst: Tensor, start: number[]): void {
  if (src.size === 0) return;
  const ds = contiguousStrides([...dst.shape]);
  const dstOffset = start.reduce((a, s, k) => a + s * ds[k], 0);
  rt().dispatch(copyKernel, {
    shape: [...src.shape],
    srcOffset: 0,
    srcStrides: contiguousStrides([...src.shape]),
    dstOffset,
    dstStrides: ds,
    dtype: src.dtype,
  }, [src.buffer, dst.buffer]);
}

function sliceRaw(x: Tensor, start: number[], end: number[]): Tensor {
  const shape = end.map((e, k) => e - start[k]);
  const out = new Tensor(shape, x.dtype);
  if (out.size === 0) return out;
  const xs = contiguousStrides([...x.shape]);
  rt().dispatch(copyKernel, {
    shape,
    srcOffset: start.reduce((a, s, k) => a + s * xs[k], 0),
    srcStrides: xs,
    dstOffset: 0,
    dstStrides: contiguousStrides(shape),
    dtype: x.dtype,
  }, [x.buffer, out.buffer]);
  return out;
}

/**
 * Join tensors along `axis` (negative counts from the end); all other sizes must agree.
 * @example
 * ```ts
 * const y = concat([a, b], 1); // [2, 3] and [2, 5] -> [2, 8]
 * ```
 */
export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error("concat needs at least one tensor");
  const rank = xs[0].shape.length;
  const a = axisOf(axis, rank, "concat");
  for (const t of xs) {
    const ok = t.shape.length === rank && t.dtype === xs[0].dtype &&
      t.shape.every((d, k) => k === a || d === xs[0].shape[k]);
    if (!ok) {
      throw new Error(`concat along axis ${a}: [${t.shape.join(", ")}] does not match [${xs[0].shape.join(", ")}]`);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a], 0);
  const out = new Tensor(shape, xs[0].dtype);
  const starts: number[] = [];
  let at = 0;
  for (const t of xs) {
    starts.push(at);
    copyInto(t, out, shape.map((_, k) => (k === a ? at : 0)));
    at += t.shape[a];
  }
  return record(out, "concat", xs, (g) =>
    xs.map((t, i) => {
      if (!t.requiresGrad) return null;
      const s = shape.map((_, k) => (k === a ? starts[i] : 0));
      return sliceRaw(g, s, s.map((v, k) => v + t.shape[k]));
    }));
}

/**
 * Missing trailing axes are taken whole; negative indices count from the end.
 * @example
 * ```ts
 * const crop = slice(x, [0, 0, 2, 2], [x.shape[0], x.shape[1], 10, 10]); // rows and columns 2..9
 * ```
 */
export function slice(x: Tensor, start: number[], end?: number[]): Tensor {
  const rank = x.shape.length;
  if (start.length > rank || (end && end.length > rank)) {
    throw new Error(`slice of [${x.shape.join(", ")}] got ${Math.max(start.length, end?.length ?? 0)} axes`);
  }
  const norm = (v: number, d: number) => (v < 0 ? v + d : v);
  const s = x.shape.map((d, k) => norm(start[k] ?? 0, d));
  const e = x.shape.map((d, k) => norm(end?.[k] ?? d, d));
  s.forEach((v, k) => {
    if (v < 0 || e[k] > x.shape[k] || v > e[k]) {
      throw new Error(`slice [${start.join(", ")}] to [${end?.join(", ") ?? ""}] is outside [${x.shape.join(", ")}]`);
    }
  });
  const out = sliceRaw(x, s, e);
  return record(out, "slice", [x], (g) => {
    const gx = zeros(x.shape);
    copyInto(g, gx, s);
    return [gx];
  });
}

/**
 * Output axis k is input axis `perm[k]`; with no `perm`, reverse the axes.
 * @example
 * ```ts
 * const nhwc = transpose(nchw, [0, 2, 3, 1]);
 * ```
 */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  const rank = x.shape.length;
  const p = perm ?? x.shape.map((_, k) => rank - 1 - k);
  if (p.length !== rank || [...p].sort((a, b) => a - b).some((v, k) => v !== k)) {
    throw new Error(`transpose of [${x.shape.join(", ")}]: [${p.join(", ")}] is not a permutation of its axes`);
  }
  const shape: Shape = p.map((k) => x.shape[k]);
  const out = new Tensor(shape, x.dtype);
  if (out.size > 0) {
    const xs = contiguousStrides([...x.shape]);
    rt().dispatch(copyKernel, {
      shape: [...shape],
      srcOffset: 0,
      srcStrides: p.map((k) => xs[k]),
      dstOffset: 0,
      dstStrides: contiguousStrides([...shape]),
      dtype: x.dtype,
    }, [x.buffer, out.buffer]);
  }
  const inverse = p.map((_, k) => p.indexOf(k));
  return record(out, "transpose", [x], (g) => [transpose(g, inverse)]);
}

export const permute = (x: Tensor, perm: number[]): Tensor => transpose(x, perm);

/**
 * As numpy's `roll` on the last axis: output column j is input column (j - shift) mod D.
 * @example
 * ```ts
 * const bgLast = roll(logits, -1); // [bg, c0, c1] -> [c0, c1, bg]
 * ```
 */
export function roll(x: Tensor, shift: number): Tensor {
  const rank = x.shape.length;
  if (rank === 0) throw new Error("roll needs at least one axis");
  const D = x.shape[rank - 1], k = ((shift % D) + D) % D;
  if (k === 0 || x.size === 0) return transpose(x, x.shape.map((_, i) => i));
  const rows = x.size / D, out = new Tensor(x.shape, x.dtype);
  const copy = (src: Tensor, dst: Tensor, n: number, from: number, to: number) =>
    rt().dispatch(copyKernel, {
      shape: [rows, n],
      srcOffset: from,
      srcStrides: [D, 1],
      dstOffset: to,
      dstStrides: [D, 1],
      dtype: x.dtype,
    }, [src.buffer, dst.buffer]);
  const rollRaw = (src: Tensor, s: number) => {
    const dst = new Tensor(src.shape, src.dtype);
    copy(src, dst, D - s, 0, s);
    copy(src, dst, s, D - s, 0);
    return dst;
  };
  copy(x, out, D - k, 0, k);
  copy(x, out, k, D - k, 0);
  return record(out, "roll", [x], (g) => [rollRaw(g, D - k)]);
}
