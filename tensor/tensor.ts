/** GPU tensors with explicit lifetimes: `tidy()` keeps a training loop's GPU memory flat. */
import { Runtime } from "../gpu/runtime.ts";
import { chooseGemm, configureGemm } from "../kernels/gemm_choice.ts";

export type DType = "f32" | "i32" | "u32";
export type Shape = readonly number[];
export type TypedArrayOf<D extends DType> = D extends "f32" ? Float32Array : D extends "i32" ? Int32Array
: Uint32Array;

export interface GradNode {
  name: string;
  inputs: Tensor[];
  backward(grad: Tensor): (Tensor | null)[];
}

const scopes: Set<Tensor>[] = [];
let runtime: Runtime | null = null;

/** `await initTensors()` once before creating any tensor. */
export function rt(): Runtime {
  if (!runtime) throw new Error("Tensors need the GPU runtime: call `await initTensors()` first");
  return runtime;
}

export async function initTensors(): Promise<Runtime> {
  if (!runtime) {
    runtime = await Runtime.get();
    configureGemm(chooseGemm(runtime.report));
  }
  return runtime;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
  #buffer: GPUBuffer | null;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: GradNode | null = null;
  kept = false;
  /** A view (reshape) shares its base's buffer and never releases it. */
  readonly base: Tensor | null;

  constructor(shape: Shape, dtype: DType = "f32", buffer?: GPUBuffer, base?: Tensor) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`Invalid tensor shape [${shape.join(", ")}]`);
    }
    this.shape = [...shape];
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.base = base ?? null;
    this.#buffer = buffer ?? rt().buffer(this.size * 4, "tensor");
    scopes.at(-1)?.add(this);
  }

  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error(`Tensor [${this.shape.join(", ")}] used after dispose`);
    return this.#buffer;
  }

  get disposed(): boolean {
    return this.#buffer === null;
  }

  static from(data: ArrayLike<number>, shape: Shape, dtype: DType = "f32"): Tensor {
    const n = sizeOf(shape);
    if (data.length !== n) throw new Error(`Data of length ${data.length} does not fit shape [${shape.join(", ")}]`);
    const arr = dtype === "f32"
      ? Float32Array.from(data)
      : dtype === "i32"
      ? Int32Array.from(data)
      : Uint32Array.from(data);
    const t = new Tensor(shape, dtype);
    if (n > 0) rt().write(t.buffer, arr);
    return t;
  }

  write(data: ArrayLike<number>): void {
    if (data.length !== this.size) throw new Error(`write() of ${data.length} values into ${this}`);
    const arr = this.dtype === "f32"
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : this.dtype === "i32"
      ? Int32Array.from(data)
      : Uint32Array.from(data);
    if (this.size > 0) rt().write(this.buffer, arr);
  }

  async toArray(): Promise<Float32Array | Int32Array | Uint32Array> {
    const r = rt();
    if (this.size === 0) return new Float32Array(0);
    const bytes = await r.read(this.buffer, this.size * 4);
    return this.dtype === "f32"
      ? new Float32Array(bytes)
      : this.dtype === "i32"
      ? new Int32Array(bytes)
      : new Uint32Array(bytes);
  }

  async toF32(): Promise<Float32Array> {
    if (this.dtype !== "f32") throw new Error(`toF32() on a ${this.dtype} tensor`);
    return await this.toArray() as Float32Array;
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() on a tensor of shape [${this.shape.join(", ")}]`);
    return (await this.toArray())[0];
  }

  dispose(): void {
    if (!this.#buffer) return;
    if (!this.base) rt().release(this.#buffer);
    this.#buffer = null;
    this.node = null;
    for (const s of scopes) s.delete(this);
  }

  keep(): this {
    this.kept = true;
    for (const s of scopes) s.delete(this);
    return this;
  }

  requireGrad(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(", ")}]`;
  }
}

function collect(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 4 || v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return;
  if (v instanceof Tensor) {
    out.add(v);
    if (v.grad) out.add(v.grad);
    if (v.base) out.add(v.base);
    return;
  }
  for (const x of Array.isArray(v) ? v : Object.values(v)) collect(x, out, depth + 1);
}

/** Dispose every tensor `fn` created except those it returns (directly, in an array or plain object) and kept ones. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const keepSet = new Set<Tensor>();
  collect(result, keepSet);
  for (const t of scope) {
    if (keepSet.has(t) || t.kept) {
      scopes.at(-1)?.add(t);
      continue;
    }
    // A kept view's base must outlive it.
    t.dispose();
  }
  return result;
}

/** `tidy` for async callbacks; tensors created while awaiting belong to this scope. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } finally {
    const i = scopes.lastIndexOf(scope);
    if (i >= 0) scopes.splice(i, 1);
  }
  const keepSet = new Set<Tensor>();
  collect(result, keepSet);
  for (const t of scope) {
    if (keepSet.has(t) || t.kept) scopes.at(-1)?.add(t);
    else t.dispose();
  }
  return result;
}
