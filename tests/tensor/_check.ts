/**
 * One check for a differentiable op: the forward against a float64
 * reference on a poisoned output, then the gradient of L = sum(seed * y)
 * for every input that wants one against central finite differences of
 * the reference.
 */
import { assertClose, numericGrad, randomArray, read64 } from "../_util.ts";
import { poisonPool } from "./_poison.ts";
import { Tensor, tidy } from "../../tensor/tensor.ts";
import { backward } from "../../tensor/ops.ts";
import type { Rng } from "../../core/rng.ts";

export interface OpCheck {
  name: string;
  inputs: { data: Float64Array; shape: number[]; grad?: boolean }[];
  op: (xs: Tensor[]) => Tensor;
  ref: (xs: Float64Array[]) => Float64Array;
  /** Forward and gradient tolerances, each justified where the check is declared. */
  tol: { rtol?: number; atol?: number };
  gradTol: { rtol?: number; atol?: number };
  /** Finite-difference step (central differences: error ~ eps^2 * f'''). */
  eps?: number;
  rng: Rng;
}

export async function checkOp(c: OpCheck): Promise<void> {
  // Inputs exactly representable in f32, so copies and maxima can be compared exactly.
  for (const i of c.inputs) i.data.forEach((v, k) => i.data[k] = Math.fround(v));
  const want = c.ref(c.inputs.map((i) => i.data));
  poisonPool(want.length);
  const got = await tidy(() => c.op(c.inputs.map((i) => Tensor.from(i.data, i.shape)))).toArray();
  assertClose(got, want, c.tol, `${c.name} forward`);
  if (!c.inputs.some((i) => i.grad)) return;
  const seed = randomArray(c.rng, want.length);
  const ts = c.inputs.map((i) => Tensor.from(i.data, i.shape).requireGrad(!!i.grad));
  for (const i of c.inputs) poisonPool(i.data.length);
  tidy(() => {
    const y = c.op(ts);
    backward(y, Tensor.from(seed, y.shape));
  });
  const loss = () => c.ref(c.inputs.map((i) => i.data)).reduce((s, v, k) => s + v * seed[k], 0);
  for (const [k, inp] of c.inputs.entries()) {
    if (!inp.grad) continue;
    const wantG = numericGrad(loss, inp.data, c.eps ?? 1e-5);
    assertClose(await read64(ts[k].grad!), wantG, c.gradTol, `${c.name} d/d(input ${k})`);
  }
  for (const t of ts) {
    t.grad?.dispose();
    t.dispose();
  }
}
