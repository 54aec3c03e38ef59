/** The core differentiable ops, each with its backward beside it. */
import {
  broadcastShape,
  broadcastStrides,
  contiguousStrides,
  mapIsFlat,
  mapKernel,
  type MapParams,
} from "../kernels/map.ts";
import { reducedShape, reduceKernel } from "../kernels/reduce.ts";
import { gemm } from "../kernels/gemm.ts";
import { reluKernel } from "../kernels/relu.ts";
import { f32 } from "../kernels/kernel.ts";
import { type BackwardOptions, backwardWith, record } from "./autograd.ts";
import { rt, type Shape, sizeOf, Tensor } from "./tensor.ts";

export function full(shape: Shape, value: number): Tensor {
  const out = new Tensor(shape);
  if (out.size > 0) dispatchMap({ expr: f32(value), outShape: [out.size], inStrides: [] }, [out.buffer]);
  return out;
}

export const zeros = (shape: Shape): Tensor => full(shape, 0);
export const ones = (shape: Shape): Tensor => full(shape, 1);

/** Elementwise `expr` over broadcast inputs (x0, x1, ...); records no gradient. */
export function mapRaw(expr: string, inputs: Tensor[], outShape?: Shape): Tensor {
  const shape = outShape ? [...outShape] : broadcastShape(...inputs.map((t) => t.shape));
  const out = new Tensor(shape);
  if (out.size === 0) return out;
  const inStrides = inputs.map((t) => broadcastStrides(t.shape, shape));
  dispatchMap({ expr, outShape: shape, inStrides }, [...inputs.map((t) => t.buffer), out.buffer]);
  return out;
}

export function dispatchMap(p: MapParams, buffers: GPUBuffer[]): void {
  const n = p.outShape.reduce((a, b) => a * b, 1);
  rt().dispatch(mapKernel, p, buffers, mapIsFlat(p) ? new Uint32Array([n]) : undefined);
}

/** A view: no copy. One axis may be -1. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const full_ = shape.map((d) => d === -1 ? x.size / known : d);
  if (sizeOf(full_) !== x.size) throw new Error(`Cannot reshape [${x.shape.join(", ")}] to [${shape.join(", ")}]`);
  const out = new Tensor(full_, x.dtype, x.buffer, x.base ?? x);
  return record(out, "reshape", [x], (g) => [reshape(g, [...x.shape])]);
}

export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const off = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, k) => {
    const j = k - off;
    if (j < 0 || (shape[j] === 1 && d !== 1)) axes.push(k);
  });
  const s = sum(g, axes);
  return reshape(s, [...shape]);
}

function binary(
  name: string,
  expr: string,
  a: Tensor,
  b: Tensor,
  back: (g: Tensor) => [Tensor | null, Tensor | null],
): Tensor {
  const out = mapRaw(expr, [a, b]);
  return record(out, name, [a, b], (g) => {
    const [ga, gb] = back(g);
    return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
  });
}

export function add(a: Tensor, b: Tensor): Tensor {
  return binary("add", "x0 + x1", a, b, (g) => [g, g]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return binary("sub", "x0 - x1", a, b, (g) => [g, mapRaw("-x0", [g])]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  return binary("mul", "x0 * x1", a, b, (g) => [
    a.requiresGrad ? mapRaw("x0 * x1", [g, b]) : null,
    b.requiresGrad ? mapRaw("x0 * x1", [g, a]) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  return binary("div", "x0 / x1", a, b, (g) => [
    a.requiresGrad ? mapRaw("x0 / x1", [g, b]) : null,
    b.requiresGrad ? mapRaw("-x0 * x1 / (x2 * x2)", [g, a, b]) : null,
  ]);
}

export function scale(x: Tensor, c: number): Tensor {
  const out = mapRaw(`x0 * ${f32(c)}`, [x]);
  return record(out, "scale", [x], (g) => [mapRaw(`x0 * ${f32(c)}`, [g])]);
}

export function addScalar(x: Tensor, c: number): Tensor {
  const out = mapRaw(`x0 + ${f32(c)}`, [x]);
  return record(out, "addScalar", [x], (g) => [g]);
}

export function neg(x: Tensor): Tensor {
  return scale(x, -1);
}

/** Multiples of 4 take the vec4 kernel (kernels/relu.ts); backward inputs are [y, g]. */
function reluRaw(inputs: Tensor[], backward: boolean): Tensor {
  const x = inputs[0], add = !backward && inputs.length === 2;
  if (x.size % 4 !== 0 || x.size === 0 || inputs.some((t) => t.shape.join() !== x.shape.join())) {
    const expr = backward ? "select(0.0, x1, x0 > 0.0)" : add ? "max(x0 + x1, 0.0)" : "max(x0, 0.0)";
    return mapRaw(expr, inputs, x.shape);
  }
  const out = new Tensor(x.shape);
  const n = x.size;
  rt().dispatch(
    reluKernel,
    { n, backward, add },
    [...inputs.map((t) => t.buffer), out.buffer],
    new Uint32Array([n / 4]),
  );
  return out;
}

/** The backward reads the output, so the input need not outlive the forward. */
export function relu(x: Tensor): Tensor {
  const out = reluRaw([x], false);
  return record(out, "relu", [x], (g) => [reluRaw([out, g], true)]);
}

/**
 * max(a + b, 0) in one pass, b broadcast to a's shape.
 * @example
 * ```ts
 * const y = addRelu(conv3, shortcut); // a ResNet block's output
 * ```
 */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  if (broadcastShape(a.shape, b.shape).join() !== a.shape.join()) {
    throw new Error(`addRelu broadcasts b to a: [${b.shape}] does not fit [${a.shape}]`);
  }
  const out = reluRaw([a, b], false);
  return record(out, "addRelu", [a, b], (g) => {
    const ga = reluRaw([out, g], true);
    return [ga, b.requiresGrad ? sumTo(ga, b.shape) : null];
  });
}

export function sigmoid(x: Tensor): Tensor {
  const out = mapRaw("1.0 / (1.0 + exp(-x0))", [x]);
  return record(out, "sigmoid", [x], (g) => [mapRaw("x0 * x1 * (1.0 - x1)", [g, out])]);
}

export function exp(x: Tensor): Tensor {
  const out = mapRaw("exp(x0)", [x]);
  return record(out, "exp", [x], (g) => [mapRaw("x0 * x1", [g, out])]);
}

export function log(x: Tensor): Tensor {
  const out = mapRaw("log(x0)", [x]);
  return record(out, "log", [x], (g) => [mapRaw("x0 / x1", [g, x])]);
}

export function square(x: Tensor): Tensor {
  const out = mapRaw("x0 * x0", [x]);
  return record(out, "square", [x], (g) => [mapRaw("2.0 * x0 * x1", [g, x])]);
}

function normAxes(x: Tensor, axes?: number | number[]): number[] {
  const list = axes === undefined ? x.shape.map((_, d) => d) : Array.isArray(axes) ? axes : [axes];
  return [...new Set(list.map((a) => (a < 0 ? a + x.shape.length : a)))].sort((p, q) => p - q);
}

function keptShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, k) => (axes.includes(k) ? 1 : d));
}

/** No gradient recorded; `shape` relabels the result (same size). */
export function reduceRaw(x: Tensor, op: "sum" | "max", axes: number[], scaleBy = 1, shape?: Shape): Tensor {
  const reduced = reducedShape([...x.shape], axes);
  if (shape && sizeOf(shape) !== sizeOf(reduced)) throw new Error(`reduceRaw cannot label [${reduced}] as [${shape}]`);
  const out = new Tensor(shape ?? reduced);
  rt().dispatch(reduceKernel, { op, inShape: [...x.shape], axes, scale: scaleBy }, [x.buffer, out.buffer]);
  return out;
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes);
  const r = reduceRaw(x, "sum", ax);
  const out = keepDims ? new Tensor(keptShape(x, ax), "f32", r.buffer, r) : r;
  return record(out, "sum", [x], (g) => [mapRaw("x0", [reshape(g, keptShape(x, ax))], x.shape)]);
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes);
  const n = ax.reduce((a, d) => a * x.shape[d], 1);
  const r = reduceRaw(x, "sum", ax, 1 / n);
  const out = keepDims ? new Tensor(keptShape(x, ax), "f32", r.buffer, r) : r;
  return record(out, "mean", [x], (g) => [mapRaw(`x0 * ${f32(1 / n)}`, [reshape(g, keptShape(x, ax))], x.shape)]);
}

/** The gradient goes to every element equal to the max. */
export function max(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes);
  const r = reduceRaw(x, "max", ax);
  const ks = keptShape(x, ax);
  const out = keepDims ? new Tensor(ks, "f32", r.buffer, r) : r;
  return record(out, "max", [x], (g) => {
    const m = new Tensor(ks, "f32", r.buffer, r);
    return [mapRaw("select(0.0, x0, x1 == x2)", [reshape(g, ks), x, m], x.shape)];
  });
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/** Batched over a leading axis: [M,K]x[K,N], [B,M,K]x[B,K,N], [B,M,K]x[K,N] or [M,K]x[B,K,N]. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { transA = false, transB = false } = opts;
  if (a.shape.length < 2 || a.shape.length > 3 || b.shape.length < 2 || b.shape.length > 3) {
    throw new Error(`matmul takes 2-D or 3-D tensors, got [${a.shape}] and [${b.shape}]`);
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [K2, N] = transB ? [bc, br] : [br, bc];
  if (K !== K2) throw new Error(`matmul inner sizes differ: [${a.shape}] and [${b.shape}]`);
  const ba = a.shape.length === 3 ? a.shape[0] : 0;
  const bb = b.shape.length === 3 ? b.shape[0] : 0;
  if (ba && bb && ba !== bb) throw new Error(`matmul batch sizes differ: [${a.shape}] and [${b.shape}]`);
  const batch = Math.max(ba, bb, 1);
  const outShape = ba || bb ? [batch, M, N] : [M, N];
  const out = new Tensor(outShape);
  gemm(rt(), { batch, M, N, K, transA, transB, broadcastA: !ba, broadcastB: !bb }, [a.buffer, b.buffer, out.buffer]);
  return record(out, "matmul", [a, b], (g) => {
    // dA = g @ op(B)^T, dB = op(A)^T @ g, laid out as A and B are stored.
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transB: !transB });
      if (!ba && ga.shape.length === 3) ga = sum(ga, 0);
    }
    if (b.requiresGrad) {
      gb = transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA });
      if (!bb && gb.shape.length === 3) gb = sum(gb, 0);
    }
    return [ga, gb];
  });
}

/**
 * Accumulate d(root)/d(leaf) into `.grad` of every leaf that requires it.
 * @example
 * ```ts
 * backward(loss, undefined, { releaseGraph: true }); // a training step's memory peaks lower
 * ```
 */
export function backward(root: Tensor, seed?: Tensor, opts: BackwardOptions = {}): void {
  const s = seed ?? ones(root.shape);
  backwardWith(root, s, { add: (a, b) => mapRaw("x0 + x1", [a, b]), copy: (x) => mapRaw("x0", [x]) }, opts);
}

export { contiguousStrides };
