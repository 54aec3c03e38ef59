/**
 * One check for a part of the detector that owns parameters: its forward
 * against a float64 mirror, then the gradient of L = sum(seed * y) with
 * respect to the input and to every entry of every parameter against
 * central finite differences of the mirror. Parameters are drawn afresh
 * (f32-exact) and redrawn until no ReLU input lies within 1e-3 of its
 * kink, where a difference quotient is not a derivative.
 */
import { assertClose, numericGrad, randomArray, read64 } from "../_util.ts";
import { poisonPool } from "../tensor/_poison.ts";
import { type Params64, reluMargin, type T64 } from "./_ref64.ts";
import { ParamStore } from "../../model/params.ts";
import { Rng } from "../../core/rng.ts";
import { backward } from "../../tensor/ops.ts";
import { Tensor, tidy } from "../../tensor/tensor.ts";

export interface PartCheck {
  name: string;
  input: T64;
  /** The part on the GPU; creates its parameters in `ps` on the first call. */
  gpu: (ps: ParamStore, x: Tensor) => Tensor;
  /** Its float64 mirror over the same named parameters. */
  ref: (ps: Params64, x: T64) => T64;
  rng: Rng;
  /** Forward and gradient tolerances (the gradient's absolute one is a fraction of its largest entry). */
  tol: { rtol: number; atol: number };
  gradTol: { rtol: number; scaledAtol: number };
}

/** Random f32-exact values for parameter `name` of `shape`: unit-variance-preserving weights, norms near 1. */
function draw(r: Rng, name: string, shape: readonly number[]): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  let v: Float64Array;
  if (/(norm|gn\d|downsample\.1)\.weight$/.test(name)) v = randomArray(r, n, 0.5, 1.5);
  else if (name.endsWith(".bias")) v = randomArray(r, n, -0.3, 0.3);
  else {
    const fanIn = shape.length === 4 || shape.length === 2 ? n / shape[0] : shape[0];
    const a = Math.sqrt(3 / fanIn);
    v = randomArray(r, n, -a, a);
  }
  return v.map(Math.fround);
}

export async function checkPart(c: PartCheck): Promise<void> {
  const x64 = { data: c.input.data.map(Math.fround), shape: c.input.shape };
  const ps = new ParamStore(new Rng(1));
  tidy(() => c.gpu(ps, Tensor.from(x64.data, x64.shape)));
  const entries = ps.entries();
  let params: Params64 = new Map();
  let want: T64 | null = null;
  for (let attempt = 0; attempt < 20 && !want; attempt++) {
    params = new Map(entries.map(([name, t]) => [name, draw(c.rng, name, t.shape)]));
    reluMargin.min = Infinity;
    const y = c.ref(params, x64);
    if (reluMargin.min >= 1e-3) want = y;
  }
  if (!want) throw new Error(`${c.name}: no parameter draw keeps every ReLU input 1e-3 from 0`);
  for (const [name, t] of entries) t.write(params.get(name)!);
  const seed = randomArray(c.rng, want.data.length);
  const x = Tensor.from(x64.data, x64.shape).requireGrad();
  poisonPool(want.data.length);
  for (const [, t] of entries) poisonPool(t.size);
  poisonPool(x.size);
  const y = tidy(() => {
    const out = c.gpu(ps, x);
    backward(out, Tensor.from(seed, out.shape));
    return out;
  });
  try {
    assertClose(await read64(y), want.data, c.tol, `${c.name} forward`);
    const loss = () => c.ref(params, x64).data.reduce((s, v, k) => s + v * seed[k], 0);
    const check = async (got: Tensor, at: Float64Array, what: string) => {
      const fd = numericGrad(loss, at, 1e-6);
      const scale = fd.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const tol = { rtol: c.gradTol.rtol, atol: c.gradTol.scaledAtol * scale };
      assertClose(await read64(got), fd, tol, `${c.name} d/d(${what})`);
    };
    await check(x.grad!, x64.data, "input");
    for (const [name, t] of entries) await check(t.grad!, params.get(name)!, name);
  } finally {
    for (const t of [y, x, x.grad]) t?.dispose();
    ps.dispose();
  }
}
