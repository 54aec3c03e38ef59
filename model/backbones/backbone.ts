/**
 * What every backbone gives the detector: feature maps of some stages,
 * finest first, with their strides and channels.
 */
import type { ParamStore } from "../params.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/** A backbone built from its configuration. */
export interface Backbone {
  /** Image pixels per feature pixel of each returned stage, ascending. */
  readonly strides: readonly number[];
  /** Channels of each returned stage. */
  readonly channels: readonly number[];
  /** The returned stages' features of images [B, 3, H, W] (H and W multiples of the largest stride). */
  forward(ps: ParamStore, images: Tensor): Tensor[];
}
