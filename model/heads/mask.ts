/**
 * torchvision's MaskRCNNHeads + predictor: 3x3 convs at 14x14, 2x2 deconv to 28x28, 1x1 to C+1 channels
 * (channel 0 the unused background, category c is c+1), or to one channel for every category
 * (`classAgnostic`). Only each RoI's own channel is computed.
 */
import { z } from "zod";
import { conv } from "../layers.ts";
import { weightedSigmoidBce } from "../masked_loss.ts";
import type { ParamStore } from "../params.ts";
import { add, full, matmul, relu, reshape, sigmoid } from "../../tensor/ops.ts";
import { convTranspose2d } from "../../tensor/ops_conv_transpose.ts";
import { conv2d } from "../../tensor/ops_conv.ts";
import { Tensor } from "../../tensor/tensor.ts";

export const MaskHeadConfig = z.strictObject({
  kind: z.literal("fcn").default("fcn"),
  /** RoIAlign bins per side (the logits are twice that). */
  poolSize: z.int().positive().default(14),
  /** The 3x3 convolutions' channels, one entry per layer. */
  layers: z.array(z.int().positive()).min(1).default([256, 256, 256, 256]),
  dilation: z.int().positive().default(1),
  reducedChannels: z.int().positive().default(256),
  /** Pasted mask probabilities at or above this are the mask (LVIS and COCO: 0.5). */
  threshold: z.number().gt(0).lt(1).default(0.5),
  /**
   * One mask channel shared by all categories (detectron2's `CLS_AGNOSTIC_MASK`): a rare category's own
   * channel would learn from its handful of examples only. torchvision's is per category (false).
   */
  classAgnostic: z.boolean().default(false),
});
export type MaskHeadConfig = z.infer<typeof MaskHeadConfig>;

export class MaskHead {
  constructor(readonly cfg: MaskHeadConfig, readonly shape: { inChannels: number; numClasses: number }) {}

  get resolution(): number {
    return 2 * this.cfg.poolSize;
  }

  /** The features before the last 1x1 convolution: [R, reducedChannels, 2P, 2P]. */
  features(ps: ParamStore, pooled: Tensor): Tensor {
    const d = this.cfg.dilation;
    let x = pooled, cin = this.shape.inChannels;
    this.cfg.layers.forEach((cout, i) => {
      // torchvision: Kaiming normal over the fan-out, zero bias.
      const init = { kind: "kaiming" as const, fanIn: cout * 9 };
      x = relu(
        conv(ps, `roi_heads.mask_head.${i}.0`, x, { cin, cout, k: 3, padding: d, dilation: d, bias: true, init }),
      );
      cin = cout;
    });
    const R = this.cfg.reducedChannels, p = "roi_heads.mask_predictor";
    const w = ps.param(`${p}.conv5_mask.weight`, [cin, R, 2, 2], { kind: "kaiming", fanIn: R * 4 });
    const b = ps.param(`${p}.conv5_mask.bias`, [R], { kind: "uniform", bound: 1 / Math.sqrt(R * 4) });
    return relu(convTranspose2d(x, w, { bias: b }));
  }

  get #channels(): number {
    return this.cfg.classAgnostic ? 1 : this.shape.numClasses + 1;
  }

  #predictor(ps: ParamStore): { w: Tensor; b: Tensor } {
    const R = this.cfg.reducedChannels, K = this.#channels, p = "roi_heads.mask_predictor.mask_fcn_logits";
    return {
      w: ps.param(`${p}.weight`, [K, R, 1, 1], { kind: "kaiming", fanIn: K }),
      b: ps.param(`${p}.bias`, [K], { kind: "uniform", bound: 1 / Math.sqrt(R) }),
    };
  }

  /** Every channel's logits [R, C+1, 2P, 2P] (channel c+1 is category c; one channel if class-agnostic). */
  allLogits(ps: ParamStore, feats: Tensor): Tensor {
    const { w, b } = this.#predictor(ps);
    return conv2d(feats, w, { bias: b });
  }

  /** Logits of `classes[r]` per row r: [R, 2P, 2P]; 1x1 rows gathered one-hot so gradients reach only those. */
  logits(ps: ParamStore, feats: Tensor, classes: ArrayLike<number>): Tensor {
    const { w, b } = this.#predictor(ps);
    const [N, Cr, H, W] = feats.shape, K = this.#channels;
    if (classes.length !== N) throw new Error(`MaskHead.logits got ${classes.length} classes for ${N} rows`);
    const onehot = new Float32Array(N * K);
    for (let r = 0; r < N; r++) onehot[r * K + (K === 1 ? 0 : classes[r] + 1)] = 1;
    const sel = Tensor.from(onehot, [N, K]);
    const wSel = matmul(sel, reshape(w, [K, Cr])); // [N, Cr]
    const bSel = matmul(sel, reshape(b, [K, 1])); // [N, 1]
    const y = matmul(reshape(wSel, [N, 1, Cr]), reshape(feats, [N, Cr, H * W])); // [N, 1, HW]
    return reshape(add(y, reshape(bSel, [N, 1, 1])), [N, H, W]);
  }

  probabilities(logits: Tensor): Tensor {
    return sigmoid(logits);
  }

  /**
   * Per-pixel BCE of logits [N, M, M], averaged over the `count` real rows (torchvision's mask loss);
   * `real[r]` is 0 for rows that only pad to a reused shape (all real when absent).
   */
  loss(logits: Tensor, targets: Tensor, count: number, real?: ArrayLike<number>): Tensor {
    const [N, H, W] = logits.shape, n = N * H * W, M = H * W;
    const weights = real
      ? Tensor.from(Float32Array.from({ length: n }, (_, i) => real[Math.floor(i / M)]), [n])
      : full([n], 1);
    return weightedSigmoidBce(reshape(logits, [n]), reshape(targets, [n]), weights, count * M);
  }
}
