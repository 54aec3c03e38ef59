/**
 * torchvision's TwoMLPHead plus a predictor: `ce` has C+1 softmax logits and class-specific deltas;
 * sigmoid losses (and seesaw's C+2) have one logit per column and class-agnostic deltas. C+1 rows
 * are stored in torchvision's order (background first) and rotated to tailor's (background last).
 */
import { z } from "zod";
import { clipBoxes, decodeBoxes } from "../boxes.ts";
import { linear } from "../layers.ts";
import { nms } from "../nms.ts";
import type { ParamStore } from "../params.ts";
import { smoothL1Loss } from "../smooth_l1.ts";
import type { ClassificationLoss } from "../../losses/loss.ts";
import { reshape } from "../../tensor/ops.ts";
import { roll } from "../../tensor/ops_shape.ts";
import { Tensor } from "../../tensor/tensor.ts";

export const BoxHeadConfig = z.strictObject({
  kind: z.literal("two_fc").default("two_fc"),
  poolSize: z.int().positive().default(7),
  fcDim: z.int().positive().default(1024),
  /** Class-specific deltas; default: the `ce` loss's torchvision form only. */
  classSpecific: z.boolean().optional(),
  /** Smooth L1's quadratic half-width for the deltas (torchvision 1/9; 0 is L1). */
  boxLossBeta: z.number().min(0).default(1 / 9),
});
export type BoxHeadConfig = z.infer<typeof BoxHeadConfig>;

export const BOX_WEIGHTS = [10, 10, 5, 5] as const;

export interface BoxOutputs {
  /** [R, fcDim]: what the classifier sees. */
  features: Tensor;
  /** [R, columns], in the loss's column order (background last). */
  logits: Tensor;
  /** [R, 4 * blocks]: class-specific (blocks = C + 1, category c is block c + 1) or agnostic (1). */
  deltas: Tensor;
}

export interface ImageDetections {
  /** Flat x1, y1, x2, y2. */
  boxes: Float32Array;
  scores: Float32Array;
  /** Category indices in [0, C). */
  labels: Int32Array;
}

export interface BoxHeadShape {
  inChannels: number;
  numClasses: number;
  /** The loss's logit columns: C+1, C or C+2. */
  columns: number;
  classSpecific: boolean;
  /** Initial classifier bias (the prior for sigmoid losses, 0 for softmax). */
  clsBiasInit: number;
}

export class BoxHead {
  /** Whether the stored classifier rows are torchvision's order (background first). */
  readonly backgroundFirst: boolean;

  constructor(readonly cfg: BoxHeadConfig, readonly shape: BoxHeadShape) {
    this.backgroundFirst = shape.columns === shape.numClasses + 1;
  }

  forward(ps: ParamStore, pooled: Tensor): BoxOutputs {
    const s = this.shape, P = this.cfg.poolSize, din = s.inChannels * P * P, F = this.cfg.fcDim;
    const x = reshape(pooled, [pooled.shape[0], din]);
    const kaiming = (fanIn: number) => ({ kind: "kaiming" as const, fanIn });
    const zero = { kind: "constant" as const, value: 0 };
    const h1 = linear(ps, "roi_heads.box_head.fc6", x, {
      din,
      dout: F,
      init: kaiming(din),
      biasInit: zero,
      relu: true,
    });
    const h2 = linear(ps, "roi_heads.box_head.fc7", h1, {
      din: F,
      dout: F,
      init: kaiming(F),
      biasInit: zero,
      relu: true,
    });
    const p = "roi_heads.box_predictor";
    const logits = linear(ps, `${p}.cls_score`, h2, {
      din: F,
      dout: s.columns,
      init: { kind: "normal", std: 0.01 },
      biasInit: { kind: "constant", value: s.clsBiasInit },
    });
    const deltas = linear(ps, `${p}.bbox_pred`, h2, {
      din: F,
      dout: 4 * this.blocks,
      init: { kind: "normal", std: 0.001 },
      biasInit: zero,
    });
    return { features: h2, logits: this.backgroundFirst ? roll(logits, -1) : logits, deltas };
  }

  get blocks(): number {
    return this.shape.classSpecific ? this.shape.numClasses + 1 : 1;
  }

  block(c: number): number {
    return this.shape.classSpecific ? c + 1 : 0;
  }

  /**
   * torchvision's `fastrcnn_loss`: the loss on every row, smooth L1 on foreground blocks, over R.
   * @param labels Category per row, `numClasses` for background.
   */
  losses(out: BoxOutputs, labels: Int32Array, targets: Float32Array, loss: ClassificationLoss) {
    const R = labels.length, C = this.shape.numClasses;
    const cls = loss.forward(out.logits, labels).loss;
    const block = Int32Array.from(labels, (l) => l < C ? this.block(l) : -1);
    const box = smoothL1Loss(out.deltas, Tensor.from(targets, [R, 4]), {
      block,
      beta: this.cfg.boxLossBeta,
      normalizer: Math.max(1, R),
    });
    return { cls, box };
  }

  /**
   * torchvision's `postprocess_detections` for one image: per-category decode and clip, score >
   * `scoreThreshold` and sides >= 0.01 (best `candidates` if set), NMS per category, top `detectionsPerImage`.
   * @param scores [R, W] test-time scores, W >= C (columns past C are not categories).
   */
  async postprocess(
    scores: Float32Array,
    deltas: Float32Array,
    proposals: Float32Array,
    o: {
      imageSize: readonly [number, number];
      scoreThreshold: number;
      nmsThreshold: number;
      detectionsPerImage: number;
      candidates: number | null;
    },
  ): Promise<ImageDetections> {
    const R = proposals.length / 4, C = this.shape.numClasses, W = R ? scores.length / R : 0;
    const k = this.blocks;
    const boxes = clipBoxes(decodeBoxes(deltas, proposals, { weights: BOX_WEIGHTS }), {
      height: o.imageSize[0],
      width: o.imageSize[1],
    });
    const boxOf = (r: number, c: number) => 4 * (r * k + (k === 1 ? 0 : c + 1));
    const thr = Math.fround(o.scoreThreshold);
    let cand: number[] = [];
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        if (!(scores[r * W + c] > thr)) continue;
        const b = boxOf(r, c);
        const w = Math.fround(boxes[b + 2] - boxes[b]), h = Math.fround(boxes[b + 3] - boxes[b + 1]);
        if (w >= Math.fround(1e-2) && h >= Math.fround(1e-2)) cand.push(r * C + c);
      }
    }
    const score = (rc: number) => scores[Math.floor(rc / C) * W + (rc % C)];
    if (o.candidates !== null && cand.length > o.candidates) {
      cand = cand.sort((a, b) => score(b) - score(a) || a - b).slice(0, o.candidates);
    }
    const cb = new Float32Array(4 * cand.length), cs = new Float32Array(cand.length);
    const cg = new Int32Array(cand.length);
    cand.forEach((rc, i) => {
      const b = boxOf(Math.floor(rc / C), rc % C);
      cb.set(boxes.subarray(b, b + 4), 4 * i);
      cs[i] = score(rc);
      cg[i] = rc % C;
    });
    const keep = await nms(cb, cs, { iouThreshold: o.nmsThreshold, groups: cg, maxKeep: o.detectionsPerImage });
    const kb = new Float32Array(4 * keep.length);
    keep.forEach((j, i) => kb.set(cb.subarray(4 * j, 4 * j + 4), 4 * i));
    return { boxes: kb, scores: Float32Array.from(keep, (j) => cs[j]), labels: Int32Array.from(keep, (j) => cg[j]) };
  }
}

/** Bias giving sigmoid(b) = p: b = -log((1 - p) / p). */
export function priorBias(p: number): number {
  return -Math.log((1 - p) / p);
}
