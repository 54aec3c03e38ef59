/**
 * The two-stage detector: backbone (+ FPN), RPN, RoIAlign and a box head
 * whose classifier loss is chosen by name (bce, ce, focal, eql, eqlv2,
 * seesaw, federated). Dense work runs on WGSL kernels; the small, branchy
 * steps between stages (anchor matching, NMS of a few hundred proposals,
 * RoI sampling) run on the host over read-back arrays.
 */
import type { Rng } from "../core/rng.ts";
import { clipBoxes, decodeBoxes } from "./boxes.ts";
import { backbone, backboneStride } from "./backbone.ts";
import { boxHead, priorBias } from "./box_head.ts";
import type { DetectorConfig } from "./config.ts";
import { weightedSigmoidBce } from "./masked_loss.ts";
import { ParamStore } from "./params.ts";
import { rpnHead } from "./rpn_head.ts";
import { gridAnchors, rpnTargets } from "./anchors.ts";
import { nms, scoreOrder } from "./nms.ts";
import { sampleRois } from "./sampler.ts";
import { roiAlign } from "./roi_align.ts";
import { smoothL1Loss } from "./smooth_l1.ts";
import type { ClassificationLoss } from "../losses/loss.ts";
import type { InstanceMasks } from "../data/masks/training_masks.ts";
import { add, reshape, zeros } from "../tensor/ops.ts";
import { transpose } from "../tensor/ops_shape.ts";
import { noGrad } from "../tensor/autograd.ts";
import { Tensor, tidy } from "../tensor/tensor.ts";

/** Ground truth of one image, in the network input's pixel coordinates. */
export interface ImageTargets {
  /** Flat x1, y1, x2, y2. */
  boxes: Float32Array;
  /** Category indices in [0, C). */
  labels: Int32Array;
  /** One mask per box at the image's network-input size, when training with masks. */
  masks?: InstanceMasks;
}

/** A batch of normalised images, padded to one size. */
export interface ImageBatch {
  /** [B, 3, H, W] */
  images: Float32Array;
  batch: number;
  height: number;
  width: number;
  /** Valid (unpadded) size of each image, for clipping. */
  sizes: { height: number; width: number }[];
}

export interface Detections {
  /** Flat x1, y1, x2, y2 in network-input pixels. */
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
}

type LossParts = Record<"total" | "rpn_cls" | "rpn_box" | "cls" | "box", Tensor>;

export class Detector {
  readonly params: ParamStore;
  readonly stride: number;
  readonly anchorsPerLocation: number;
  #anchors = new Map<string, Float32Array>();

  /**
   * @param columns Logit columns of the classifier: C+1 for losses with a background channel, C or C+2 for others.
   * @param clsBiasPrior Initial classifier probability for sigmoid losses (0 leaves the bias at 0).
   */
  constructor(
    readonly cfg: DetectorConfig,
    readonly numClasses: number,
    readonly columns: number,
    rng: Rng,
    readonly clsBiasPrior = 0.001,
  ) {
    this.params = new ParamStore(rng);
    this.stride = backboneStride(cfg);
    this.anchorsPerLocation = cfg.anchorSizes.length * cfg.anchorRatios.length;
  }

  /** Anchors of an h x w feature map, in (y, x, anchor) order. */
  anchors(h: number, w: number): Float32Array {
    const key = `${h}x${w}`;
    let a = this.#anchors.get(key);
    if (!a) {
      const c = this.cfg;
      a = gridAnchors({
        sizes: c.anchorSizes,
        aspectRatios: c.anchorRatios,
        stride: this.stride,
        height: h,
        width: w,
        offset: 0.5,
      });
      this.#anchors.set(key, a);
    }
    return a;
  }

  /** Create every parameter now (they are otherwise made on first use), with a forward on a dummy input. */
  build(): void {
    const side = this.stride * 4;
    tidy(() => {
      noGrad(() => {
        const { feat } = this.#heads(zeros([1, 3, side, side]));
        this.#boxHead(feat, Tensor.from([0, 0, 0, side / 2, side / 2], [1, 5]));
      });
    });
  }

  /** Backbone features and the RPN maps, flattened to (image, y, x, anchor) rows. */
  #heads(images: Tensor) {
    const feat = backbone(this.params, this.cfg, images);
    const rpn = rpnHead(this.params, feat, this.cfg.featureChannels, this.anchorsPerLocation);
    const [B, A, h, w] = rpn.objectness.shape;
    return {
      feat,
      h,
      w,
      objectness: reshape(transpose(rpn.objectness, [0, 2, 3, 1]), [B * h * w * A]),
      deltas: reshape(transpose(rpn.deltas, [0, 2, 3, 1]), [B * h * w * A, 4]),
    };
  }

  #boxHead(feat: Tensor, rois: Tensor) {
    const P = this.cfg.roi.poolSize;
    const pooled = roiAlign(feat, rois, {
      outputSize: P,
      spatialScale: 1 / this.stride,
      samplingRatio: this.cfg.roi.samplingRatio,
    });
    return boxHead(this.params, pooled, {
      inDim: this.cfg.featureChannels * P * P,
      fcDim: this.cfg.roi.fcDim,
      columns: this.columns,
      clsBiasInit: this.clsBiasPrior > 0 ? priorBias(this.clsBiasPrior) : 0,
    });
  }

  /** Proposals per image from read-back RPN rows: top-k, decode, clip, NMS. */
  async #proposals(obj: Float32Array, del: Float32Array, h: number, w: number, batch: ImageBatch, postK: number) {
    const n = h * w * this.anchorsPerLocation;
    const anchors = this.anchors(h, w);
    const out: Float32Array[] = [];
    for (let b = 0; b < batch.batch; b++) {
      const scores = obj.subarray(b * n, (b + 1) * n);
      const order = scoreOrder(scores, this.cfg.rpn.preNmsTopK);
      const d = new Float32Array(order.length * 4), anc = new Float32Array(order.length * 4);
      order.forEach((i, r) => {
        d.set(del.subarray(4 * (b * n + i), 4 * (b * n + i) + 4), 4 * r);
        anc.set(anchors.subarray(4 * i, 4 * i + 4), 4 * r);
      });
      const boxes = clipBoxes(decodeBoxes(d, anc), batch.sizes[b]);
      const keep = await nms(boxes, Float32Array.from(order, (i) => scores[i]), {
        iouThreshold: this.cfg.rpn.nmsThreshold,
        maxKeep: postK,
      });
      const sel = new Float32Array(keep.length * 4);
      keep.forEach((k, r) => sel.set(boxes.subarray(4 * k, 4 * k + 4), 4 * r));
      out.push(sel);
    }
    return out;
  }

  /**
   * Losses of one training step: rpn_cls, rpn_box, cls, box, and their sum
   * `total`, all scalar tensors with the graph recorded.
   */
  async losses(
    batch: ImageBatch,
    targets: ImageTargets[],
    clsLoss: ClassificationLoss,
    rng: Rng,
  ): Promise<LossParts & { fgFraction: number }> {
    const x = Tensor.from(batch.images, [batch.batch, 3, batch.height, batch.width]);
    const { feat, objectness, deltas, h, w } = this.#heads(x);
    const n = h * w * this.anchorsPerLocation;
    const anchors = this.anchors(h, w);

    // RPN targets over the (image, y, x, anchor) rows; unsampled rows weigh 0.
    const objT = new Float32Array(batch.batch * n), objW = new Float32Array(batch.batch * n);
    const delT = new Float32Array(batch.batch * n * 4), delBlock = new Int32Array(batch.batch * n).fill(-1);
    for (let b = 0; b < batch.batch; b++) {
      const t = rpnTargets({
        anchors,
        gtBoxes: targets[b].boxes,
        rng,
        batchSize: this.cfg.rpn.batchPerImage,
        positiveFraction: this.cfg.rpn.positiveFraction,
      });
      for (let i = 0; i < n; i++) {
        if (t.labels[i] < 0) continue;
        objW[b * n + i] = 1;
        objT[b * n + i] = t.labels[i];
        if (t.labels[i] === 1) {
          delBlock[b * n + i] = 0;
          delT.set(t.deltas.subarray(4 * i, 4 * i + 4), 4 * (b * n + i));
        }
      }
    }
    const norm = batch.batch * this.cfg.rpn.batchPerImage;
    const rpnCls = weightedSigmoidBce(
      objectness,
      Tensor.from(objT, [objT.length]),
      Tensor.from(objW, [objW.length]),
      norm,
    );
    const rpnBox = smoothL1Loss(deltas, Tensor.from(delT, [delBlock.length, 4]), {
      block: delBlock,
      beta: 1 / 9,
      normalizer: norm,
    });

    // Proposals from the current RPN (no gradient flows through them).
    const [objHost, delHost] = await Promise.all([objectness.toF32(), deltas.toF32()]);
    const proposals = await this.#proposals(objHost, delHost, h, w, batch, this.cfg.rpn.postNmsTopK);

    const { rois, labels, boxT, block, fg } = this.#sampleRois(proposals, targets, rng);
    const R = labels.length;
    const head = this.#boxHead(feat, Tensor.from(rois, [R, 5]));
    const cls = clsLoss.forward(head.logits, Int32Array.from(labels)).loss;
    const box = smoothL1Loss(head.deltas, Tensor.from(boxT, [R, 4]), { block, beta: 0, normalizer: Math.max(1, R) });
    const total = add(add(rpnCls, rpnBox), add(cls, box));
    return { total, rpn_cls: rpnCls, rpn_box: rpnBox, cls, box, fgFraction: fg / Math.max(1, R) };
  }

  /** RoI sampling for a training step: proposals plus ground truth, labelled by IoU. */
  #sampleRois(proposals: Float32Array[], targets: ImageTargets[], rng: Rng) {
    const rois: number[] = [], labels: number[] = [], boxT: number[] = [], block: number[] = [];
    let fg = 0;
    for (let b = 0; b < proposals.length; b++) {
      const s = sampleRois({
        proposals: proposals[b],
        gtBoxes: targets[b].boxes,
        gtClasses: targets[b].labels,
        numClasses: this.numClasses,
        rng,
        batchSize: this.cfg.roi.batchPerImage,
        positiveFraction: this.cfg.roi.positiveFraction,
        iouThreshold: this.cfg.roi.fgIou,
      });
      // Always batchPerImage rows (sampled rows repeat when there are too few candidates), so every
      // step has the same shapes and reuses the compiled pipelines.
      const S = this.cfg.roi.batchPerImage;
      for (let k = 0; k < S; k++) {
        const r = s.labels.length ? k % s.labels.length : -1;
        if (r < 0) {
          rois.push(b, 0, 0, 1, 1);
          labels.push(this.numClasses);
          boxT.push(0, 0, 0, 0);
          block.push(-1);
          continue;
        }
        rois.push(b, ...s.boxes.subarray(4 * r, 4 * r + 4));
        labels.push(s.labels[r]);
        boxT.push(...s.deltas.subarray(4 * r, 4 * r + 4));
        block.push(r < s.numForeground ? 0 : -1);
        fg += r < s.numForeground ? 1 : 0;
      }
    }
    return { rois, labels, boxT, block, fg };
  }

  /**
   * What decoupled re-training (cRT, LWS) trains a classifier on: the RoI features that enter
   * the classifier [R, fcDim] and the labels they were sampled with, for one batch, as a
   * training step samples them, without gradient.
   */
  async classifierInputs(
    batch: ImageBatch,
    targets: ImageTargets[],
    rng: Rng,
  ): Promise<{ features: Tensor; labels: Int32Array }> {
    const x = Tensor.from(batch.images, [batch.batch, 3, batch.height, batch.width]);
    const { feat, objectness, deltas, h, w } = noGrad(() => this.#heads(x));
    const [objHost, delHost] = await Promise.all([objectness.toF32(), deltas.toF32()]);
    const proposals = await this.#proposals(objHost, delHost, h, w, batch, this.cfg.rpn.postNmsTopK);
    const { rois, labels } = this.#sampleRois(proposals, targets, rng);
    const head = noGrad(() => this.#boxHead(feat, Tensor.from(rois, [labels.length, 5])));
    return { features: head.features, labels: Int32Array.from(labels) };
  }

  /**
   * The classifier: logits = features [R, inDim] @ W [inDim, columns] + b, columns in the loss's
   * order; `stored` names its parameters as the weights file holds them, with their shapes.
   */
  classifierParams(): { inDim: number; columns: number; stored: { name: string; shape: number[] }[] } {
    const inDim = this.cfg.roi.fcDim, columns = this.columns;
    const stored = [{ name: "roi.cls.weight", shape: [inDim, columns] }, { name: "roi.cls.bias", shape: [columns] }];
    return { inDim, columns, stored };
  }

  /** The classifier's values: `weight` row-major [inDim, columns], columns in the loss's order. */
  async readClassifier(): Promise<{ weight: Float32Array; bias: Float32Array }> {
    const [w, b] = this.classifierParams().stored.map((p) => this.params.get(p.name)!);
    return { weight: await w.toF32(), bias: await b.toF32() };
  }

  /** Replace the classifier's values (laid out as `readClassifier` gives them). */
  writeClassifier(c: { weight: ArrayLike<number>; bias: ArrayLike<number> }): void {
    const [w, b] = this.classifierParams().stored.map((p) => this.params.get(p.name)!);
    w.write(c.weight);
    b.write(c.bias);
  }

  /** Detections per image: test-time scores, class-wise NMS, score threshold, top-k. */
  async predict(batch: ImageBatch, clsLoss: ClassificationLoss): Promise<Detections[]> {
    const t = this.cfg.test;
    const x = Tensor.from(batch.images, [batch.batch, 3, batch.height, batch.width]);
    const { feat, objectness, deltas, h, w } = noGrad(() => this.#heads(x));
    const [objHost, delHost] = await Promise.all([objectness.toF32(), deltas.toF32()]);
    const proposals = await this.#proposals(objHost, delHost, h, w, batch, t.proposals);
    // A fixed number of rows per image (padding repeats a dummy box) keeps the shapes, and so the
    // compiled pipelines, the same for every batch; padded rows are never read.
    const rois: number[] = [];
    proposals.forEach((p, b) => {
      for (let r = 0; r < t.proposals; r++) {
        if (4 * r < p.length) rois.push(b, ...p.subarray(4 * r, 4 * r + 4));
        else rois.push(b, 0, 0, 1, 1);
      }
    });
    const R = rois.length / 5;
    const C = this.numClasses;
    const [scores, boxDel] = await noGrad(() => {
      const head = this.#boxHead(feat, Tensor.from(rois, [R, 5]));
      return Promise.all([clsLoss.scores(head.logits).toF32(), head.deltas.toF32()]);
    });
    // Score rows have C+1 columns (background last) for most losses and C for EQL v1, focal and EFL.
    const W = scores.length / R;
    const out: Detections[] = [];
    for (let b = 0; b < batch.batch; b++) {
      const nb = proposals[b].length / 4, row = b * t.proposals;
      const boxes = clipBoxes(
        decodeBoxes(boxDel.subarray(4 * row, 4 * (row + nb)), proposals[b], { weights: [10, 10, 5, 5] }),
        batch.sizes[b],
      );
      let cand: number[] = [];
      for (let r = 0; r < nb; r++) {
        for (let c = 0; c < C; c++) if (scores[(row + r) * W + c] > t.scoreThreshold) cand.push(r * C + c);
      }
      if (cand.length > t.candidates) {
        const s = (rc: number) => scores[(row + Math.floor(rc / C)) * W + (rc % C)];
        cand = cand.sort((a, b) => s(b) - s(a) || a - b).slice(0, t.candidates);
      }
      const cb = new Float32Array(cand.length * 4),
        cs = new Float32Array(cand.length),
        cg = new Int32Array(cand.length);
      cand.forEach((rc, i) => {
        const r = Math.floor(rc / C);
        cb.set(boxes.subarray(4 * r, 4 * r + 4), 4 * i);
        cs[i] = scores[(row + r) * W + (rc % C)];
        cg[i] = rc % C;
      });
      const keep = await nms(cb, cs, { iouThreshold: t.nmsThreshold, groups: cg, maxKeep: t.detectionsPerImage });
      const kb = new Float32Array(keep.length * 4);
      keep.forEach((k, i) => kb.set(cb.subarray(4 * k, 4 * k + 4), 4 * i));
      out.push({
        boxes: kb,
        scores: Float32Array.from(keep, (k) => cs[k]),
        labels: Int32Array.from(keep, (k) => cg[k]),
      });
    }
    return out;
  }
}
