/**
 * The box head: two fully connected layers over RoI-aligned features, then a
 * classifier with C+1 logits (the last is the background channel) and
 * class-agnostic box deltas.
 */
import { linear } from "./layers.ts";
import type { ParamStore } from "./params.ts";
import { relu, reshape } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";

export interface BoxHeadOutputs {
  /** [R, fcDim]: what the classifier sees. */
  features: Tensor;
  /** [R, C+1] */
  logits: Tensor;
  /** [R, 4] */
  deltas: Tensor;
}

export interface BoxHeadSpec {
  /** Channels x pool x pool of each RoI feature. */
  inDim: number;
  fcDim: number;
  /** Logit columns (C+1 with a background channel). */
  columns: number;
  /** Initial classifier bias (the prior for sigmoid losses, 0 for softmax). */
  clsBiasInit: number;
}

export function boxHead(ps: ParamStore, roiFeatures: Tensor, s: BoxHeadSpec): BoxHeadOutputs {
  const x = reshape(roiFeatures, [roiFeatures.shape[0], s.inDim]);
  const h1 = relu(linear(ps, "roi.fc1", x, { din: s.inDim, dout: s.fcDim }));
  const h2 = relu(linear(ps, "roi.fc2", h1, { din: s.fcDim, dout: s.fcDim }));
  return {
    features: h2,
    logits: linear(ps, "roi.cls", h2, { din: s.fcDim, dout: s.columns, std: 0.01, biasInit: s.clsBiasInit }),
    deltas: linear(ps, "roi.box", h2, { din: s.fcDim, dout: 4, std: 0.001 }),
  };
}

/** Bias giving sigmoid(b) = p: b = -log((1 - p) / p). */
export function priorBias(p: number): number {
  return -Math.log((1 - p) / p);
}
