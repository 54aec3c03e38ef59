/**
 * The RPN head: a 3x3 convolution, then per-anchor objectness logits and
 * box deltas. Anchor k of a location is channel k of the objectness map and
 * channels 4k..4k+3 of the delta map, so the anchor order is (k, y, x).
 */
import { conv } from "./layers.ts";
import type { ParamStore } from "./params.ts";
import { relu } from "../tensor/ops.ts";
import { conv2d } from "../tensor/ops_conv.ts";
import type { Tensor } from "../tensor/tensor.ts";

export interface RpnOutputs {
  /** [B, A, h, w] */
  objectness: Tensor;
  /** [B, 4A, h, w] */
  deltas: Tensor;
}

export function rpnHead(ps: ParamStore, feat: Tensor, channels: number, anchorsPerLocation: number): RpnOutputs {
  const h = relu(conv(ps, "rpn.conv", feat, { cin: channels, cout: channels, k: 3, bias: true }));
  const A = anchorsPerLocation;
  const wObj = ps.param("rpn.objectness.weight", [A, channels, 1, 1], { kind: "normal", std: 0.01 });
  const bObj = ps.param("rpn.objectness.bias", [A], { kind: "constant", value: 0 });
  const wDel = ps.param("rpn.deltas.weight", [4 * A, channels, 1, 1], { kind: "normal", std: 0.01 });
  const bDel = ps.param("rpn.deltas.bias", [4 * A], { kind: "constant", value: 0 });
  return {
    objectness: conv2d(h, wObj, { bias: bObj }),
    deltas: conv2d(h, wDel, { bias: bDel }),
  };
}
