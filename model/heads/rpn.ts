/**
 * torchvision's RPN: one head shared by all levels (3x3 conv + ReLU, per-anchor logits and deltas),
 * its proposal filter, and its losses (BCE over sampled anchors, smooth L1 over positives, / sampled).
 */
import { z } from "zod";
import type { Rng } from "../../core/rng.ts";
import { cellAnchors, rpnTargets, shiftedAnchors } from "../anchors.ts";
import { clipBoxes, decodeBoxes, nonEmptyBoxes } from "../boxes.ts";
import { conv } from "../layers.ts";
import { weightedSigmoidBce } from "../masked_loss.ts";
import { nms, scoreOrder } from "../nms.ts";
import type { ParamStore } from "../params.ts";
import { smoothL1Loss } from "../smooth_l1.ts";
import { isGradEnabled } from "../../tensor/autograd.ts";
import { reshape } from "../../tensor/ops.ts";
import { concat, transpose } from "../../tensor/ops_shape.ts";
import { Tensor } from "../../tensor/tensor.ts";

export const RpnConfig = z.strictObject({
  kind: z.literal("standard").default("standard"),
  /** Anchor sides per pyramid level, e.g. [[32], [64], [128], [256], [512]]. */
  anchorSizes: z.array(z.array(z.number().positive()).min(1)).min(1),
  /** Height / width ratios, the same on every level. */
  anchorRatios: z.array(z.number().positive()).min(1).default([0.5, 1, 2]),
  /** Training: proposals kept per level before NMS, and per image after it. */
  preNmsTopK: z.int().positive().default(2000),
  postNmsTopK: z.int().positive().default(2000),
  nmsThreshold: z.number().gt(0).lt(1).default(0.7),
  /** Proposals narrower or lower than this (pixels) are dropped. */
  minSize: z.number().min(0).default(1e-3),
  batchPerImage: z.int().positive().default(256),
  positiveFraction: z.number().gt(0).lt(1).default(0.5),
  fgIou: z.number().gt(0).lt(1).default(0.7),
  bgIou: z.number().gt(0).lt(1).default(0.3),
  /** Smooth L1's quadratic half-width for the deltas (torchvision 1/9; 0 is L1). */
  boxLossBeta: z.number().min(0).default(1 / 9),
});
export type RpnConfig = z.infer<typeof RpnConfig>;

/** The RPN's outputs over all levels, per image in (level, y, x, anchor) order. */
export interface RpnOutputs {
  /** [B, N] objectness logits. */
  objectness: Tensor;
  /** [B, N, 4] deltas (dx, dy, dw, dh). */
  deltas: Tensor;
  /** Anchors per image on each level. */
  perLevel: number[];
}

export interface RpnTargets {
  /** [B * N] 1 positive, 0 negative (where sampled). */
  labels: Float32Array;
  /** [B * N] 1 where sampled. */
  weights: Float32Array;
  /** [B * N * 4] regression targets of positives. */
  deltas: Float32Array;
  /** [B * N] 0 for positives, -1 otherwise (smooth L1 blocks). */
  block: Int32Array;
  /** Anchors sampled in the batch, the losses' divisor. */
  sampled: number;
}

export class RpnHead {
  readonly anchorsPerLocation: number;
  readonly #cells: Float32Array[];
  readonly #grids = new Map<string, Float32Array>();

  constructor(readonly cfg: RpnConfig, readonly channels: number) {
    this.#cells = cfg.anchorSizes.map((s) => cellAnchors(s, cfg.anchorRatios));
    this.anchorsPerLocation = this.#cells[0].length / 4;
    if (this.#cells.some((c) => c.length / 4 !== this.anchorsPerLocation)) {
      throw new Error("Every RPN level needs the same number of anchors per location");
    }
  }

  forward(ps: ParamStore, levels: Tensor[]): RpnOutputs {
    if (levels.length !== this.cfg.anchorSizes.length) {
      throw new Error(
        `The RPN has anchors for ${this.cfg.anchorSizes.length} levels, got ${levels.length} feature maps`,
      );
    }
    const C = this.channels, A = this.anchorsPerLocation, p = "rpn.head";
    const std = { kind: "normal" as const, std: 0.01 };
    const obj: Tensor[] = [], del: Tensor[] = [], perLevel: number[] = [];
    for (const x of levels) {
      const [B, , h, w] = x.shape;
      const t = conv(ps, `${p}.conv.0.0`, x, { cin: C, cout: C, k: 3, bias: true, relu: true, init: std });
      const o = conv(ps, `${p}.cls_logits`, t, { cin: C, cout: A, k: 1, bias: true, init: std });
      const d = conv(ps, `${p}.bbox_pred`, t, { cin: C, cout: 4 * A, k: 1, bias: true, init: std });
      obj.push(reshape(transpose(o, [0, 2, 3, 1]), [B, h * w * A]));
      del.push(reshape(transpose(d, [0, 2, 3, 1]), [B, h * w * A, 4]));
      perLevel.push(h * w * A);
      // Without a graph, the level's maps are dead once transposed.
      if (!isGradEnabled()) { for (const m of [t, o, d]) m.dispose(); }
    }
    const out = {
      objectness: obj.length === 1 ? obj[0] : concat(obj, 1),
      deltas: del.length === 1 ? del[0] : concat(del, 1),
      perLevel,
    };
    if (!isGradEnabled() && obj.length > 1) { for (const m of [...obj, ...del]) (m.base ?? m).dispose(); }
    return out;
  }

  /** Anchors of every level for a padded `height` x `width` batch, levels `sizes` (h, w), in output order. */
  anchors(height: number, width: number, sizes: readonly (readonly [number, number])[]): Float32Array {
    const key = `${height}x${width}:${sizes.join(";")}`;
    let a = this.#grids.get(key);
    if (!a) {
      const parts = sizes.map(([h, w], l) =>
        shiftedAnchors(this.#cells[l], {
          strideY: Math.floor(height / h),
          strideX: Math.floor(width / w),
          height: h,
          width: w,
        })
      );
      a = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) {
        a.set(p, at);
        at += p.length;
      }
      this.#grids.set(key, a);
    }
    return a;
  }

  /**
   * torchvision's `filter_proposals` per image: top `preNmsTopK` per level, decode, clip, drop < `minSize`,
   * NMS per level, best `postNmsTopK` (ties in anchor order). Returns boxes and sigmoid scores.
   */
  async proposals(
    objectness: Float32Array,
    deltas: Float32Array,
    o: {
      anchors: Float32Array;
      perLevel: readonly number[];
      imageSizes: readonly (readonly [number, number])[];
      preNmsTopK: number;
      postNmsTopK: number;
    },
  ): Promise<{ boxes: Float32Array; scores: Float32Array }[]> {
    const N = o.perLevel.reduce((a, b) => a + b, 0);
    const out: { boxes: Float32Array; scores: Float32Array }[] = [];
    for (let b = 0; b < o.imageSizes.length; b++) {
      const picked: number[] = [], level: number[] = [];
      let start = 0;
      o.perLevel.forEach((n, l) => {
        for (const i of scoreOrder(objectness.subarray(b * N + start, b * N + start + n), o.preNmsTopK)) {
          picked.push(start + i);
          level.push(l);
        }
        start += n;
      });
      const d = new Float32Array(4 * picked.length), anc = new Float32Array(4 * picked.length);
      picked.forEach((i, r) => {
        d.set(deltas.subarray(4 * (b * N + i), 4 * (b * N + i) + 4), 4 * r);
        anc.set(o.anchors.subarray(4 * i, 4 * i + 4), 4 * r);
      });
      const [h, w] = o.imageSizes[b];
      const boxes = clipBoxes(decodeBoxes(d, anc), { height: h, width: w });
      const keep = nonEmptyBoxes(boxes, this.cfg.minSize, true);
      const kb = new Float32Array(4 * keep.length), ks = new Float32Array(keep.length);
      keep.forEach((k, r) => {
        kb.set(boxes.subarray(4 * k, 4 * k + 4), 4 * r);
        ks[r] = 1 / (1 + Math.exp(-objectness[b * N + picked[k]]));
      });
      const kept = await nms(kb, ks, {
        iouThreshold: this.cfg.nmsThreshold,
        groups: keep.map((k) => level[k]),
        maxKeep: o.postNmsTopK,
      });
      const sel = new Float32Array(4 * kept.length);
      kept.forEach((k, r) => sel.set(kb.subarray(4 * k, 4 * k + 4), 4 * r));
      out.push({ boxes: sel, scores: Float32Array.from(kept, (k) => ks[k]) });
    }
    return out;
  }

  /** Label and sample anchors (torchvision's matcher, 0.7 / 0.3, low-quality matches), or take the given draws. */
  targets(
    anchors: Float32Array,
    gtBoxes: readonly Float32Array[],
    rng: Rng,
    sampled?: readonly { positive: ArrayLike<number>; negative: ArrayLike<number> }[],
  ): RpnTargets {
    const n = anchors.length / 4, B = gtBoxes.length;
    const labels = new Float32Array(B * n), weights = new Float32Array(B * n);
    const deltas = new Float32Array(B * n * 4), block = new Int32Array(B * n).fill(-1);
    let count = 0;
    for (let b = 0; b < B; b++) {
      const t = rpnTargets({
        anchors,
        gtBoxes: gtBoxes[b],
        rng,
        batchSize: this.cfg.batchPerImage,
        positiveFraction: this.cfg.positiveFraction,
        lowThreshold: this.cfg.bgIou,
        highThreshold: this.cfg.fgIou,
        sampled: sampled?.[b],
      });
      for (let i = 0; i < n; i++) {
        if (t.labels[i] < 0) continue;
        weights[b * n + i] = 1;
        labels[b * n + i] = t.labels[i];
        count++;
        if (t.labels[i] === 1) {
          block[b * n + i] = 0;
          deltas.set(t.deltas.subarray(4 * i, 4 * i + 4), 4 * (b * n + i));
        }
      }
    }
    return { labels, weights, deltas, block, sampled: count };
  }

  losses(out: RpnOutputs, t: RpnTargets): { rpn_cls: Tensor; rpn_box: Tensor } {
    const rows = t.labels.length, norm = Math.max(1, t.sampled);
    const rpnCls = weightedSigmoidBce(
      reshape(out.objectness, [rows]),
      Tensor.from(t.labels, [rows]),
      Tensor.from(t.weights, [rows]),
      norm,
    );
    const rpnBox = smoothL1Loss(reshape(out.deltas, [rows, 4]), Tensor.from(t.deltas, [rows, 4]), {
      block: t.block,
      beta: this.cfg.boxLossBeta,
      normalizer: norm,
    });
    return { rpn_cls: rpnCls, rpn_box: rpnBox };
  }
}
