/** What every backbone gives the detector: feature maps of some stages, finest first. */
import type { ParamStore } from "../params.ts";
import type { Tensor } from "../../tensor/tensor.ts";

export interface Backbone {
  /** Image pixels per feature pixel of each returned stage, ascending. */
  readonly strides: readonly number[];
  /** Channels of each returned stage. */
  readonly channels: readonly number[];
  /** The returned stages' features of images [B, 3, H, W] (H and W multiples of the largest stride). */
  forward(ps: ParamStore, images: Tensor): Tensor[];
}
