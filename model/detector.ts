/**
 * Two-stage detector (backbone, FPN, RPN, RoIAlign, box and mask heads): dense work in WGSL,
 * matching, NMS and sampling on the host. `r50_fpn` matches torchvision 0.14's Mask R-CNN.
 */
import type { Rng } from "../core/rng.ts";
import { InputError } from "../core/errors.ts";
import { encodeBoxes, pairwiseIou } from "./boxes.ts";
import type { Backbone } from "./backbones/backbone.ts";
import { fpn } from "./backbones/fpn.ts";
import { createBackbone } from "./backbones/registry.ts";
import type { DetectorConfig } from "./config.ts";
import { BOX_WEIGHTS, type BoxOutputs, type ImageDetections, priorBias } from "./heads/box.ts";
import { createHeads, type Heads } from "./heads/registry.ts";
import type { RpnOutputs } from "./heads/rpn.ts";
import { matchBoxes } from "./matcher.ts";
import { ParamStore } from "./params.ts";
import { type PoolerOptions, poolRois } from "./roi_pooler.ts";
import { sampleRois } from "./sampler.ts";
import type { ClassificationLoss } from "../losses/loss.ts";
import type { InstanceMasks } from "../data/masks/training_masks.ts";
import { maskTargets } from "./masks/mask_targets.ts";
import { add } from "../tensor/ops.ts";
import { concat, slice } from "../tensor/ops_shape.ts";
import { isGradEnabled, noGrad } from "../tensor/autograd.ts";
import { Tensor, tidy } from "../tensor/tensor.ts";

/** Mask targets for RoIs, as torchvision's `project_masks_on_boxes` (implemented by the data side). */
export interface MaskTargetSource {
  /** Targets [P, size, size] in [0, 1] for RoIs `boxes` [P * 4] (network-input pixels), one per `matched[p]`. */
  targets(boxes: Float32Array, matched: Int32Array, size: number): Float32Array;
}

/** Ground truth of one image, in the network input's pixel coordinates. */
export interface ImageTargets {
  /** Flat x1, y1, x2, y2. */
  boxes: Float32Array;
  /** Category indices in [0, C). */
  labels: Int32Array;
  /** Masks at network-input size; the mask loss needs them for every image of a batch. */
  masks?: InstanceMasks | MaskTargetSource;
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

/** Detections of one image, in network-input pixels. */
export interface Detections extends ImageDetections {
  /** [n, M, M] mask probabilities of each detection's category in its box (unpasted), with a mask head. */
  masks?: Float32Array;
  /** M, the side of each mask. */
  maskSize?: number;
}

/** Draws to use instead of the samplers' (another implementation's, for parity tests). */
export interface InjectedSamples {
  /** Per image, the anchor indices sampled positive and negative. */
  rpn?: { positive: ArrayLike<number>; negative: ArrayLike<number> }[];
  /** Per image, the sampled RoI boxes [S * 4]: they are labelled against the ground truth, not sampled. */
  rois?: Float32Array[];
}

export interface LossOptions {
  inject?: InjectedSamples;
}

export interface DetectorOptions {
  /** The classification loss's name: `ce` picks torchvision's predictor (class-specific deltas). */
  loss?: string;
}

type LossParts = Record<"total" | "rpn_cls" | "rpn_box" | "cls" | "box", Tensor> & {
  mask?: Tensor;
  /** Foreground RoIs the mask loss averaged over (those matched to a ground truth without a mask are left out). */
  maskRois?: number;
};

/** RoIs per mask-head group: counts pad to a multiple, so pipelines are reused and im2col stays small. */
const MASK_GROUP = 16;
/** The same at inference, where up to 300 detections per image meet the head: fewer, larger groups. */
const PREDICT_MASK_GROUP = 128;

function maskRows(n: number, group = MASK_GROUP): number {
  return Math.max(1, Math.ceil(n / group)) * group;
}

export class Detector {
  readonly params: ParamStore;
  readonly backbone: Backbone;
  readonly heads: Heads;
  /** Largest stride the pyramid's top-down path needs the input to be a multiple of. */
  readonly sizeDivisor: number;

  /**
   * @param columns Logit columns of the classifier: C+1 for losses with a background channel, C or C+2 for others.
   * @param clsBiasPrior Initial classifier probability for sigmoid losses (0 leaves the bias at 0).
   * @example
   * ```ts
   * const det = new Detector(detectorConfig("r50_fpn"), 1203, 1204, new Rng(1), 0.001, { loss: "eqlv2" });
   * det.build();
   * ```
   */
  constructor(
    readonly cfg: DetectorConfig,
    readonly numClasses: number,
    readonly columns: number,
    rng: Rng,
    readonly clsBiasPrior = 0.001,
    opts: DetectorOptions = {},
  ) {
    this.params = new ParamStore(rng);
    this.backbone = createBackbone(cfg.backbone);
    this.heads = createHeads(cfg, {
      channels: cfg.fpn.channels,
      numClasses,
      columns,
      classSpecific: cfg.boxHead.classSpecific ?? opts.loss === "ce",
      clsBiasInit: clsBiasPrior > 0 ? priorBias(clsBiasPrior) : 0,
    });
    this.sizeDivisor = Math.max(cfg.input.sizeDivisor, ...this.backbone.strides);
  }

  /** Create every parameter now (they are otherwise made on first use), with a forward on a dummy input. */
  build(): void {
    const side = 2 * this.sizeDivisor * (this.cfg.fpn.extraPool ? 2 : 1);
    tidy(() =>
      noGrad(() => {
        const levels = this.features(Tensor.from(new Float32Array(3 * side * side), [1, 3, side, side]));
        this.heads.rpn.forward(this.params, levels);
        const rois = Float32Array.of(0, 0, 0, side / 2, side / 2);
        this.boxOutputs(levels, rois, [[side, side]]);
        if (this.heads.mask) this.maskLogits(levels, rois, [[side, side]], [0]);
      })
    );
  }

  /** The pyramid levels of images [B, 3, H, W] (H and W multiples of `sizeDivisor`), finest first. */
  features(images: Tensor): Tensor[] {
    const c = this.backbone.forward(this.params, images);
    const levels = fpn(this.params, this.cfg.fpn, c, this.backbone.channels);
    // Without a graph, the backbone's outputs are dead once the pyramid has them.
    if (!isGradEnabled()) { for (const t of c) t.dispose(); }
    return levels;
  }

  #poolLevels(levels: Tensor[]): Tensor[] {
    return levels.slice(0, this.backbone.strides.length);
  }

  #pooler(size: number): PoolerOptions {
    const r = this.cfg.roi;
    return {
      outputSize: size,
      samplingRatio: r.samplingRatio,
      canonicalSize: r.canonicalSize,
      canonicalLevel: r.canonicalLevel,
      aligned: r.aligned,
    };
  }

  /** Box head on RoIs [R * 5] (image, x1, y1, x2, y2): outputs in pooled (level) order, and that order. */
  boxOutputs(
    levels: Tensor[],
    rois: Float32Array,
    sizes: readonly (readonly [number, number])[],
  ): BoxOutputs & { order: Int32Array } {
    const { pooled, order } = poolRois(
      this.#poolLevels(levels),
      rois,
      sizes,
      this.#pooler(this.cfg.boxHead.poolSize),
    );
    return { ...this.heads.box.forward(this.params, pooled), order };
  }

  /** Mask logits of `classes[r]` for RoIs [R * 5], in pooled order; R a multiple of `group` runs in groups. */
  maskLogits(
    levels: Tensor[],
    rois: Float32Array,
    sizes: readonly (readonly [number, number])[],
    classes: ArrayLike<number>,
    group = MASK_GROUP,
  ): { logits: Tensor; order: Int32Array } {
    const head = this.heads.mask;
    if (!head) throw new Error("This detector has no mask head");
    const { pooled, order } = poolRois(this.#poolLevels(levels), rois, sizes, this.#pooler(head.cfg.poolSize));
    const R = order.length, sorted = Array.from(order, (i) => classes[i]);
    const G = R % group === 0 ? group : R;
    const parts: Tensor[] = [];
    for (let r0 = 0; r0 < R; r0 += G) {
      const rows = G === R ? pooled : slice(pooled, [r0], [r0 + G]);
      parts.push(head.logits(this.params, head.features(this.params, rows), sorted.slice(r0, r0 + G)));
    }
    return { logits: parts.length === 1 ? parts[0] : concat(parts, 0), order };
  }

  /** The batch as a tensor, padded on the bottom and right to a multiple of `sizeDivisor`. */
  #input(batch: ImageBatch): Tensor {
    const d = this.sizeDivisor, { height: H, width: W } = batch;
    for (const s of batch.sizes) {
      if (s.height < 1 || s.width < 1 || s.height > H || s.width > W) {
        throw new InputError(`An image of ${s.height}x${s.width} does not fit the batch of ${H}x${W}`);
      }
    }
    const Hp = Math.ceil(H / d) * d, Wp = Math.ceil(W / d) * d;
    if (Hp === H && Wp === W) return Tensor.from(batch.images, [batch.batch, 3, H, W]);
    const out = new Float32Array(batch.batch * 3 * Hp * Wp);
    for (let p = 0; p < batch.batch * 3; p++) {
      for (let y = 0; y < H; y++) {
        out.set(batch.images.subarray((p * H + y) * W, (p * H + y + 1) * W), (p * Hp + y) * Wp);
      }
    }
    return Tensor.from(out, [batch.batch, 3, Hp, Wp]);
  }

  #sizes(batch: ImageBatch): [number, number][] {
    return batch.sizes.map((s) => [s.height, s.width]);
  }

  /** The anchors of a padded input of `input` [height, width] with these pyramid levels. */
  anchors(input: readonly [number, number], levels: Tensor[]): Float32Array {
    return this.heads.rpn.anchors(input[0], input[1], levels.map((l) => [l.shape[2], l.shape[3]] as const));
  }

  /** Proposals per image from the RPN's outputs (one read-back); `input` is the padded [height, width]. */
  async proposals(
    rpn: RpnOutputs,
    levels: Tensor[],
    input: readonly [number, number],
    sizes: [number, number][],
    k: { preNmsTopK: number; postNmsTopK: number },
  ): Promise<{ boxes: Float32Array; scores: Float32Array }[]> {
    const anchors = this.anchors(input, levels);
    const [obj, del] = await Promise.all([rpn.objectness.toF32(), rpn.deltas.toF32()]);
    return await this.heads.rpn.proposals(obj, del, { anchors, perLevel: rpn.perLevel, imageSizes: sizes, ...k });
  }

  /** rpn_cls, rpn_box, cls, box (and mask, with a mask head and masks on every image) and their sum `total`. */
  async losses(
    batch: ImageBatch,
    targets: ImageTargets[],
    clsLoss: ClassificationLoss,
    rng: Rng,
    opts: LossOptions = {},
  ): Promise<LossParts & { fgFraction: number }> {
    const x = this.#input(batch), input = [x.shape[2], x.shape[3]] as const;
    const sizes = this.#sizes(batch);
    const levels = this.features(x);
    const rpn = this.heads.rpn;
    const rpnOut = rpn.forward(this.params, levels);
    const rt = rpn.targets(this.anchors(input, levels), targets.map((t) => t.boxes), rng, opts.inject?.rpn);
    const { rpn_cls, rpn_box } = rpn.losses(rpnOut, rt);

    const s = opts.inject?.rois ? this.labelRois(opts.inject.rois, targets) : this.#sampleRois(
      await this.proposals(rpnOut, levels, input, sizes, {
        preNmsTopK: rpn.cfg.preNmsTopK,
        postNmsTopK: rpn.cfg.postNmsTopK,
      }),
      targets,
      rng,
    );
    const box = this.boxOutputs(levels, s.rois, sizes);
    const R = s.labels.length, C = this.numClasses;
    const labels = Int32Array.from(box.order, (i) => s.labels[i]);
    const deltas = new Float32Array(4 * R);
    box.order.forEach((i, j) => deltas.set(s.deltas.subarray(4 * i, 4 * i + 4), 4 * j));
    const { cls, box: boxLoss } = this.heads.box.losses(box, labels, deltas, clsLoss);
    let total = add(add(rpn_cls, rpn_box), add(cls, boxLoss));
    let mask: { loss: Tensor; rois: number } | undefined;
    if (this.heads.mask && targets.every((t) => t.masks)) {
      mask = this.#maskLoss(levels, s, targets, sizes);
      total = add(total, mask.loss);
    }
    let fg = 0;
    for (const l of s.labels) fg += l < C ? 1 : 0;
    return {
      total,
      rpn_cls,
      rpn_box,
      cls,
      box: boxLoss,
      ...(mask ? { mask: mask.loss, maskRois: mask.rois } : {}),
      fgFraction: fg / Math.max(1, R),
    };
  }

  /** Sampled RoIs of the batch: rows [R * 5], category (C for background), targets, matched ground truth. */
  #sampleRois(proposals: { boxes: Float32Array }[], targets: ImageTargets[], rng: Rng): SampledBatch {
    const r = this.cfg.roi, C = this.numClasses, S = r.batchPerImage;
    const out = new SampledBatchBuilder();
    proposals.forEach((p, b) => {
      const s = sampleRois({
        proposals: p.boxes,
        gtBoxes: targets[b].boxes,
        gtClasses: targets[b].labels,
        numClasses: C,
        rng,
        batchSize: S,
        positiveFraction: r.positiveFraction,
        iouThreshold: r.fgIou,
        weights: BOX_WEIGHTS,
      });
      // Always S rows per image (sampled rows repeat when too few), so every step has the same shapes and pipelines.
      const n = s.labels.length;
      for (let k = 0; k < S; k++) {
        const i = k % Math.max(1, n);
        if (n === 0) out.push(b, [0, 0, 1, 1], C, [0, 0, 0, 0], -1);
        else {out.push(
            b,
            s.boxes.subarray(4 * i, 4 * i + 4),
            s.labels[i],
            s.deltas.subarray(4 * i, 4 * i + 4),
            s.matchedGt[i],
          );}
      }
    });
    return out.build();
  }

  /** Features and proposals without gradient: the start of prediction and of classifier re-training. */
  async #inferProposals(batch: ImageBatch, preNmsTopK: number, postNmsTopK: number) {
    const x = this.#input(batch), input = [x.shape[2], x.shape[3]] as const;
    const sizes = this.#sizes(batch);
    const { levels, rpnOut } = noGrad(() => {
      const levels = this.features(x);
      return { levels, rpnOut: this.heads.rpn.forward(this.params, levels) };
    });
    const proposals = await this.proposals(rpnOut, levels, input, sizes, { preNmsTopK, postNmsTopK });
    return { levels, proposals, sizes };
  }

  /** Classifier inputs for cRT/LWS: RoI features [R, fcDim] and labels, sampled as in training, no gradient. */
  async classifierInputs(
    batch: ImageBatch,
    targets: ImageTargets[],
    rng: Rng,
  ): Promise<{ features: Tensor; labels: Int32Array }> {
    const rpn = this.heads.rpn.cfg;
    const { levels, proposals, sizes } = await this.#inferProposals(batch, rpn.preNmsTopK, rpn.postNmsTopK);
    const s = this.#sampleRois(proposals, targets, rng);
    const out = noGrad(() => this.boxOutputs(levels, s.rois, sizes));
    return { features: out.features, labels: Int32Array.from(out.order, (i) => s.labels[i]) };
  }

  /** logits = features [R, inDim] @ W [inDim, columns] + b, columns in the loss's order; `stored` as in the file. */
  classifierParams(): { inDim: number; columns: number; stored: { name: string; shape: number[] }[] } {
    const inDim = this.cfg.boxHead.fcDim, columns = this.columns, p = "roi_heads.box_predictor.cls_score";
    return {
      inDim,
      columns,
      stored: [{ name: `${p}.weight`, shape: [columns, inDim] }, { name: `${p}.bias`, shape: [columns] }],
    };
  }

  /** The stored row of the loss's column `j` (torchvision keeps the background first). */
  #storedRow(j: number): number {
    return this.heads.box.backgroundFirst ? (j + 1) % this.columns : j;
  }

  /** The classifier's values: `weight` row-major [inDim, columns], columns in the loss's order. */
  async readClassifier(): Promise<{ weight: Float32Array; bias: Float32Array }> {
    const { inDim: F, columns: K, stored } = this.classifierParams();
    const [w, b] = await Promise.all(stored.map((p) => this.params.get(p.name)!.toF32()));
    const weight = new Float32Array(F * K), bias = new Float32Array(K);
    for (let j = 0; j < K; j++) {
      const r = this.#storedRow(j);
      bias[j] = b[r];
      for (let i = 0; i < F; i++) weight[i * K + j] = w[r * F + i];
    }
    return { weight, bias };
  }

  /** Replace the classifier's values (laid out as `readClassifier` gives them). */
  writeClassifier(c: { weight: ArrayLike<number>; bias: ArrayLike<number> }): void {
    const { inDim: F, columns: K, stored } = this.classifierParams();
    const w = new Float32Array(F * K), b = new Float32Array(K);
    for (let j = 0; j < K; j++) {
      const r = this.#storedRow(j);
      b[r] = c.bias[j];
      for (let i = 0; i < F; i++) w[r * F + i] = c.weight[i * K + j];
    }
    this.params.get(stored[0].name)!.write(w);
    this.params.get(stored[1].name)!.write(b);
  }

  /**
   * Label RoIs [S * 4] per image as torchvision's RoI heads do (foreground at IoU >= fgIou, no
   * sampling): rows [R * 5], categories (C = background), targets, matched ground truth (-1 = background).
   */
  labelRois(rois: Float32Array[], targets: ImageTargets[]): SampledBatch {
    const C = this.numClasses, out = new SampledBatchBuilder();
    rois.forEach((boxes, b) => {
      const gt = targets[b], n = boxes.length / 4, nGt = gt.labels.length;
      const m = matchBoxes(pairwiseIou(gt.boxes, boxes), nGt, n, { thresholds: [this.cfg.roi.fgIou], labels: [0, 1] });
      const matched = new Float32Array(4 * n);
      for (let i = 0; i < n; i++) matched.set(gt.boxes.subarray(4 * m.matched[i], 4 * m.matched[i] + 4), 4 * i);
      const d = encodeBoxes(boxes, matched, BOX_WEIGHTS);
      for (let i = 0; i < n; i++) {
        const fg = nGt > 0 && m.labels[i] === 1;
        out.push(
          b,
          boxes.subarray(4 * i, 4 * i + 4),
          fg ? gt.labels[m.matched[i]] : C,
          d.subarray(4 * i, 4 * i + 4),
          fg ? m.matched[i] : -1,
        );
      }
    });
    return out.build();
  }

  /**
   * Mask loss over foreground RoIs, padded to a bucketed count. RoIs matched to a maskless ground truth
   * get no loss; with none left it is a zero-weighted graph, so every step has the same terms and shapes.
   */
  #maskLoss(
    levels: Tensor[],
    s: SampledBatch,
    targets: ImageTargets[],
    sizes: [number, number][],
  ): { loss: Tensor; rois: number } {
    const head = this.heads.mask!, M = head.resolution, C = this.numClasses;
    const fg: number[] = [];
    s.labels.forEach((l, i) => {
      if (l < C) fg.push(i);
    });
    const P = maskRows(fg.length);
    const rois = new Float32Array(5 * P), classes = new Int32Array(P);
    fg.forEach((i, k) => {
      rois.set(s.rois.subarray(5 * i, 5 * i + 5), 5 * k);
      classes[k] = s.labels[i];
    });
    for (let k = fg.length; k < P; k++) rois.set([0, 0, 0, 1, 1], 5 * k);
    const { logits, order } = this.maskLogits(levels, rois, sizes, classes);
    const t = new Float32Array(P * M * M);
    const rows = Array.from(order.entries()).filter(([, k]) => k < fg.length);
    for (let b = 0; b < targets.length; b++) {
      const mine = rows.filter(([, k]) => s.rois[5 * fg[k]] === b);
      if (!mine.length) continue;
      const boxes = new Float32Array(4 * mine.length), matched = new Int32Array(mine.length);
      mine.forEach(([, k], j) => {
        boxes.set(s.rois.subarray(5 * fg[k] + 1, 5 * fg[k] + 5), 4 * j);
        matched[j] = s.matched[fg[k]];
      });
      const src = targets[b].masks!;
      const got = "targets" in src
        ? src.targets(boxes, matched, M)
        : maskTargets({ masks: src, boxes, matched, size: M });
      mine.forEach(([row], j) => t.set(got.subarray(j * M * M, (j + 1) * M * M), row * M * M));
    }
    // Padded rows sit wherever the level sort put them: weigh rows by whether they are real.
    const real = Float32Array.from(order, (k) => {
      if (k >= fg.length) return 0;
      const src = targets[s.rois[5 * fg[k]]].masks!;
      return "missing" in src && src.missing?.[s.matched[fg[k]]] ? 0 : 1;
    });
    let withMask = 0;
    for (const r of real) withMask += r;
    return { loss: head.loss(logits, Tensor.from(t, [P, M, M]), Math.max(1, withMask), real), rois: withMask };
  }

  /** Proposals, box head, torchvision's post-processing, then the mask head (unless `masks: false`). */
  async predict(batch: ImageBatch, clsLoss: ClassificationLoss, opts: { masks?: boolean } = {}): Promise<Detections[]> {
    const t = this.cfg.test;
    const { levels, proposals, sizes } = await this.#inferProposals(batch, t.preNmsTopK, t.proposals);
    // Fixed rows per image (padding repeats a dummy box) keep shapes and pipelines; padded rows are never read.
    const K = t.proposals, rois = new Float32Array(5 * K * batch.batch);
    proposals.forEach((p, b) => {
      for (let r = 0; r < K; r++) {
        const o = 5 * (b * K + r);
        rois[o] = b;
        rois.set(4 * r < p.boxes.length ? p.boxes.subarray(4 * r, 4 * r + 4) : [0, 0, 1, 1], o + 1);
      }
    });
    const [scoresP, deltasP, order] = await noGrad(async () => {
      const out = this.boxOutputs(levels, rois, sizes);
      const [sc, de] = await Promise.all([clsLoss.scores(out.logits).toF32(), out.deltas.toF32()]);
      return [sc, de, out.order] as const;
    });
    const R = order.length, W = scoresP.length / R, D = deltasP.length / R;
    const scores = new Float32Array(scoresP.length), deltas = new Float32Array(deltasP.length);
    order.forEach((i, j) => {
      scores.set(scoresP.subarray(j * W, (j + 1) * W), i * W);
      deltas.set(deltasP.subarray(j * D, (j + 1) * D), i * D);
    });
    const dets: Detections[] = [];
    for (let b = 0; b < batch.batch; b++) {
      const n = proposals[b].boxes.length / 4, row = b * K;
      dets.push(
        await this.heads.box.postprocess(
          scores.subarray(row * W, (row + n) * W),
          deltas.subarray(row * D, (row + n) * D),
          proposals[b].boxes,
          { imageSize: sizes[b], ...t },
        ),
      );
    }
    if (this.heads.mask && opts.masks !== false) await this.#predictMasks(levels, dets, sizes);
    return dets;
  }

  async #predictMasks(levels: Tensor[], dets: Detections[], sizes: [number, number][]): Promise<void> {
    const M = this.heads.mask!.resolution;
    const n = dets.reduce((a, d) => a + d.labels.length, 0);
    if (n === 0) {
      for (const d of dets) [d.masks, d.maskSize] = [new Float32Array(0), M];
      return;
    }
    const P = maskRows(n, PREDICT_MASK_GROUP), rois = new Float32Array(5 * P), classes = new Int32Array(P);
    let k = 0;
    dets.forEach((d, b) => {
      for (let i = 0; i < d.labels.length; i++, k++) {
        rois[5 * k] = b;
        rois.set(d.boxes.subarray(4 * i, 4 * i + 4), 5 * k + 1);
        classes[k] = d.labels[i];
      }
    });
    for (; k < P; k++) rois.set([0, 0, 0, 1, 1], 5 * k);
    const [probs, order] = await noGrad(async () => {
      const { logits, order } = this.maskLogits(levels, rois, sizes, classes, PREDICT_MASK_GROUP);
      return [await this.heads.mask!.probabilities(logits).toF32(), order] as const;
    });
    const all = new Float32Array(P * M * M);
    order.forEach((i, j) => all.set(probs.subarray(j * M * M, (j + 1) * M * M), i * M * M));
    let at = 0;
    for (const d of dets) {
      d.masks = all.slice(at * M * M, (at + d.labels.length) * M * M);
      d.maskSize = M;
      at += d.labels.length;
    }
  }
}

export interface SampledBatch {
  /** [R * 5]: image, x1, y1, x2, y2. */
  rois: Float32Array;
  /** Category per row, C for background. */
  labels: Int32Array;
  /** [R * 4] regression targets (zeros for background). */
  deltas: Float32Array;
  /** Matched ground truth per row, -1 for background. */
  matched: Int32Array;
}

class SampledBatchBuilder {
  #rois: number[] = [];
  #labels: number[] = [];
  #deltas: number[] = [];
  #matched: number[] = [];

  push(image: number, box: ArrayLike<number>, label: number, delta: ArrayLike<number>, matched: number): void {
    this.#rois.push(image, box[0], box[1], box[2], box[3]);
    this.#labels.push(label);
    this.#deltas.push(delta[0], delta[1], delta[2], delta[3]);
    this.#matched.push(matched);
  }

  build(): SampledBatch {
    return {
      rois: Float32Array.from(this.#rois),
      labels: Int32Array.from(this.#labels),
      deltas: Float32Array.from(this.#deltas),
      matched: Int32Array.from(this.#matched),
    };
  }
}
