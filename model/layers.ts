/**
 * The layers the detector is built from, as functions of a parameter store:
 * calling a layer creates its parameters on first use and reuses them after.
 */
import type { ParamStore } from "./params.ts";
import { add, matmul, relu } from "../tensor/ops.ts";
import { conv2d } from "../tensor/ops_conv.ts";
import { groupNorm } from "../tensor/ops_nn.ts";
import type { Tensor } from "../tensor/tensor.ts";

export interface ConvSpec {
  cin: number;
  cout: number;
  k: number;
  stride?: number;
  bias?: boolean;
}

/** A k x k convolution with "same" padding. */
export function conv(ps: ParamStore, name: string, x: Tensor, s: ConvSpec): Tensor {
  const w = ps.param(`${name}.weight`, [s.cout, s.cin, s.k, s.k], { kind: "kaiming", fanIn: s.cin * s.k * s.k });
  const b = s.bias ? ps.param(`${name}.bias`, [s.cout], { kind: "constant", value: 0 }) : null;
  return conv2d(x, w, { bias: b, stride: s.stride ?? 1, padding: (s.k - 1) >> 1 });
}

/** Group normalisation with a learned scale and shift. */
export function gn(ps: ParamStore, name: string, x: Tensor, channels: number, groups: number): Tensor {
  const g = ps.param(`${name}.weight`, [channels], { kind: "constant", value: 1 });
  const b = ps.param(`${name}.bias`, [channels], { kind: "constant", value: 0 });
  return groupNorm(x, groups, { weight: g, bias: b });
}

/** Convolution, group norm, ReLU. */
export function convGnRelu(ps: ParamStore, name: string, x: Tensor, s: ConvSpec, groups: number): Tensor {
  return relu(gn(ps, `${name}.norm`, conv(ps, name, x, s), s.cout, groups));
}

export interface LinearSpec {
  din: number;
  dout: number;
  /** Initial weight std; Kaiming for ReLU layers by default. */
  std?: number;
  /** Initial bias value. */
  biasInit?: number;
}

/** x [N, din] @ W [din, dout] + b. */
export function linear(ps: ParamStore, name: string, x: Tensor, s: LinearSpec): Tensor {
  const w = ps.param(
    `${name}.weight`,
    [s.din, s.dout],
    s.std === undefined ? { kind: "kaiming", fanIn: s.din } : { kind: "normal", std: s.std },
  );
  const b = ps.param(`${name}.bias`, [s.dout], { kind: "constant", value: s.biasInit ?? 0 });
  return add(matmul(x, w), b);
}
