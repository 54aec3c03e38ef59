/**
 * Layers as functions of a parameter store, creating parameters on first use. Weights have
 * torchvision's layouts (conv [out, in, kh, kw], linear [out, in]) and names, so checkpoints load as is.
 */
import type { Init, ParamStore } from "./params.ts";
import { add, addRelu, mapRaw, matmul, mul, relu, reshape } from "../tensor/ops.ts";
import { conv2d } from "../tensor/ops_conv.ts";
import { groupNorm } from "../tensor/ops_nn.ts";
import { isGradEnabled, noGrad } from "../tensor/autograd.ts";
import { f32 } from "../kernels/kernel.ts";
import type { Tensor } from "../tensor/tensor.ts";

export interface ConvSpec {
  cin: number;
  cout: number;
  k: number;
  stride?: number;
  /** Zero padding; default (k - 1) / 2 ("same"). */
  padding?: number;
  dilation?: number;
  bias?: boolean;
  /** Weight initialisation; default Kaiming normal over the fan-in. */
  init?: Init;
  biasInit?: Init;
  /** Whether the optimizer updates the weights (default true). */
  trainable?: boolean;
  /** Apply ReLU to the output (fused into the convolution's bias pass where it can be). */
  relu?: boolean;
}

function convWeight(ps: ParamStore, name: string, s: ConvSpec): Tensor {
  const init = s.init ?? { kind: "kaiming", fanIn: s.cin * s.k * s.k };
  return ps.param(`${name}.weight`, [s.cout, s.cin, s.k, s.k], init, { trainable: s.trainable });
}

export function conv(ps: ParamStore, name: string, x: Tensor, s: ConvSpec): Tensor {
  const w = convWeight(ps, name, s);
  const b = s.bias
    ? ps.param(`${name}.bias`, [s.cout], s.biasInit ?? { kind: "constant", value: 0 }, { trainable: s.trainable })
    : null;
  return conv2d(x, w, {
    bias: b,
    stride: s.stride ?? 1,
    padding: s.padding ?? (s.k - 1) >> 1,
    dilation: s.dilation ?? 1,
    relu: s.relu,
  });
}

/** torchvision's FrozenBatchNorm2d epsilon. */
export const FROZEN_BN_EPS = 1e-5;

/**
 * Conv without bias + frozen batch norm `bnName`, folded: weight * scale, bias shift, with scale =
 * bn.weight / sqrt(running_var + eps), shift = bn.bias - running_mean * scale. Scale and shift are cached
 * until the parameters are written; a trainable weight is scaled every call so its gradient flows unscaled.
 */
export function convFrozenBn(ps: ParamStore, name: string, bnName: string, x: Tensor, s: ConvSpec): Tensor {
  const K = s.cout;
  const frozen = { trainable: false };
  const gamma = ps.param(`${bnName}.weight`, [K], { kind: "constant", value: 1 }, frozen);
  const beta = ps.param(`${bnName}.bias`, [K], { kind: "constant", value: 0 }, frozen);
  const mean = ps.param(`${bnName}.running_mean`, [K], { kind: "constant", value: 0 }, frozen);
  const variance = ps.param(`${bnName}.running_var`, [K], { kind: "constant", value: 1 }, frozen);
  const w = convWeight(ps, name, s);
  const scale = ps.derived(
    `${bnName}#scale`,
    () => noGrad(() => mapRaw(`x0 / sqrt(x1 + ${f32(FROZEN_BN_EPS)})`, [gamma, variance], [K])),
  );
  const shift = ps.derived(`${bnName}#shift`, () => noGrad(() => mapRaw("x0 - x1 * x2", [beta, mean, scale], [K])));
  const folded = w.requiresGrad
    ? mul(w, reshape(scale, [K, 1, 1, 1]))
    : ps.derived(`${name}#folded`, () => noGrad(() => mapRaw("x0 * x1", [w, reshape(scale, [K, 1, 1, 1])])));
  const y = conv2d(x, folded, {
    bias: shift,
    stride: s.stride ?? 1,
    padding: s.padding ?? (s.k - 1) >> 1,
    dilation: s.dilation ?? 1,
    relu: s.relu,
  });
  // Without a graph, a trainable layer's scaled weight is dead after the convolution.
  if (w.requiresGrad && !isGradEnabled()) folded.dispose();
  return y;
}

export function gn(ps: ParamStore, name: string, x: Tensor, channels: number, groups: number): Tensor {
  const g = ps.param(`${name}.weight`, [channels], { kind: "constant", value: 1 });
  const b = ps.param(`${name}.bias`, [channels], { kind: "constant", value: 0 });
  return groupNorm(x, groups, { weight: g, bias: b });
}

export function convGnRelu(ps: ParamStore, name: string, normName: string, x: Tensor, s: ConvSpec, groups: number) {
  return relu(gn(ps, normName, conv(ps, name, x, s), s.cout, groups));
}

export interface LinearSpec {
  din: number;
  dout: number;
  /** Weight initialisation; default torchvision's nn.Linear (uniform within 1 / sqrt(din)). */
  init?: Init;
  /** Bias initialisation; default as torchvision's nn.Linear. */
  biasInit?: Init;
  /** Apply ReLU to the output, in the bias pass. */
  relu?: boolean;
}

/** x [N, din] @ W^T + b with W [dout, din] (torchvision's nn.Linear layout). */
export function linear(ps: ParamStore, name: string, x: Tensor, s: LinearSpec): Tensor {
  const bound = 1 / Math.sqrt(s.din);
  const w = ps.param(`${name}.weight`, [s.dout, s.din], s.init ?? { kind: "uniform", bound });
  const b = ps.param(`${name}.bias`, [s.dout], s.biasInit ?? { kind: "uniform", bound });
  const y = matmul(x, w, { transB: true });
  return s.relu ? addRelu(y, b) : add(y, b);
}
