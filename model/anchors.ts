/**
 * Anchors and RPN targets, as detectron2's `DefaultAnchorGenerator` and `label_and_sample_anchors`.
 * Order is (y, x, anchor), anchors size-major then ratio: an RPN head's [A, H, W] permuted to [H, W, A].
 */
import type { Rng } from "../core/rng.ts";
import { type Boxes, type CoderWeights, encodeBoxes, pairwiseIou } from "./boxes.ts";
import { matchBoxes } from "./matcher.ts";
import { subsample } from "./sampler.ts";

export interface AnchorLevel {
  /** Anchor sides in image pixels (sqrt of the area), e.g. [32]. */
  sizes: readonly number[];
  /** Height / width ratios, e.g. [0.5, 1, 2]. */
  aspectRatios: readonly number[];
  /** Image pixels per feature pixel. */
  stride: number;
  height: number;
  width: number;
  /** Where in a cell the anchors sit, in strides: 0 = top-left corner (detectron2), 0.5 = centre. */
  offset?: number;
}

/** All anchors of a level: [height * width * sizes * ratios * 4] boxes. */
export function gridAnchors(level: AnchorLevel): Float32Array {
  const cell: number[] = [];
  for (const size of level.sizes) {
    for (const ratio of level.aspectRatios) {
      const w = Math.sqrt(size * size / ratio), h = ratio * w;
      cell.push(-w / 2, -h / 2, w / 2, h / 2);
    }
  }
  const a = cell.length / 4, off = (level.offset ?? 0) * level.stride;
  const out = new Float32Array(level.height * level.width * cell.length);
  for (let y = 0; y < level.height; y++) {
    for (let x = 0; x < level.width; x++) {
      const sx = x * level.stride + off, sy = y * level.stride + off;
      const base = (y * level.width + x) * a * 4;
      for (let k = 0; k < cell.length; k += 4) {
        out[base + k] = cell[k] + sx;
        out[base + k + 1] = cell[k + 1] + sy;
        out[base + k + 2] = cell[k + 2] + sx;
        out[base + k + 3] = cell[k + 3] + sy;
      }
    }
  }
  return out;
}

/**
 * torchvision's zero-centred cell anchors: per ratio r (h / w), per size s, (-w/2, -h/2, w/2, h/2),
 * h = s * sqrt(r), w = s / sqrt(r), rounded half to even in float32 (`AnchorGenerator.generate_anchors`).
 */
export function cellAnchors(sizes: readonly number[], aspectRatios: readonly number[]): Float32Array {
  const f = Math.fround, out: number[] = [];
  for (const ratio of aspectRatios) {
    const hr = f(Math.sqrt(f(ratio))), wr = f(1 / hr);
    for (const size of sizes) {
      const w = f(wr * f(size)), h = f(hr * f(size));
      out.push(-w / 2, -h / 2, w / 2, h / 2);
    }
  }
  return Float32Array.from(out, roundHalfEven);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `cell` shifted to (x * strideX, y * strideY) per feature pixel, in (y, x, anchor) order, as torchvision. */
export function shiftedAnchors(
  cell: ArrayLike<number>,
  grid: { strideY: number; strideX: number; height: number; width: number },
): Float32Array {
  const a = cell.length >> 2, out = new Float32Array(grid.height * grid.width * cell.length);
  for (let y = 0; y < grid.height; y++) {
    for (let x = 0; x < grid.width; x++) {
      const sx = x * grid.strideX, sy = y * grid.strideY, base = (y * grid.width + x) * a * 4;
      for (let k = 0; k < cell.length; k += 4) {
        out[base + k] = sx + cell[k];
        out[base + k + 1] = sy + cell[k + 1];
        out[base + k + 2] = sx + cell[k + 2];
        out[base + k + 3] = sy + cell[k + 3];
      }
    }
  }
  return out;
}

export interface RpnTargetOptions {
  anchors: Boxes;
  gtBoxes: Boxes;
  rng: Rng;
  /** Anchors sampled per image; default 256. */
  batchSize?: number;
  /** Largest positive share; default 0.5. */
  positiveFraction?: number;
  /** IoU below which an anchor is negative; default 0.3. */
  lowThreshold?: number;
  /** IoU from which an anchor is positive; default 0.7. */
  highThreshold?: number;
  /** Box coder weights; default (1, 1, 1, 1). */
  weights?: CoderWeights;
  /** Use these sampled anchors instead of drawing (e.g. another implementation's draw, for parity tests). */
  sampled?: { positive: ArrayLike<number>; negative: ArrayLike<number> };
}

export interface RpnTargets {
  /** Per anchor: 1 sampled positive, 0 sampled negative, -1 not sampled (no loss). */
  labels: Int8Array;
  /** Per anchor [A * 4]: regression target towards its matched ground truth (zeros where none). */
  deltas: Float32Array;
  numPositive: number;
  numNegative: number;
}

/**
 * Label anchors (IoU >= 0.7 positive, < 0.3 negative, each ground truth's best anchors positive)
 * and sample `batchSize`, at most half positive. Without ground truths every anchor is a negative candidate.
 */
export function rpnTargets(opts: RpnTargetOptions): RpnTargets {
  const { anchors, gtBoxes } = opts;
  const nA = anchors.length >> 2, nGt = gtBoxes.length >> 2;
  const match = matchBoxes(pairwiseIou(gtBoxes, anchors), nGt, nA, {
    thresholds: [opts.lowThreshold ?? 0.3, opts.highThreshold ?? 0.7],
    labels: [0, -1, 1],
    allowLowQuality: true,
  });
  const [pos, neg] = opts.sampled
    ? [Array.from(opts.sampled.positive), Array.from(opts.sampled.negative)]
    : subsample(nA, (i) => match.labels[i] === 1, (i) => match.labels[i] === 0, {
      batchSize: opts.batchSize ?? 256,
      positiveFraction: opts.positiveFraction ?? 0.5,
      rng: opts.rng,
    });
  const labels = new Int8Array(nA).fill(-1);
  for (const i of neg) labels[i] = 0;
  for (const i of pos) labels[i] = 1;
  const deltas = new Float32Array(nA * 4);
  if (nGt > 0) {
    const from = new Float32Array(pos.length * 4), to = new Float32Array(pos.length * 4);
    pos.forEach((i, k) => {
      const g = match.matched[i];
      for (let c = 0; c < 4; c++) {
        from[4 * k + c] = anchors[4 * i + c];
        to[4 * k + c] = gtBoxes[4 * g + c];
      }
    });
    const d = encodeBoxes(from, to, opts.weights ?? [1, 1, 1, 1]);
    pos.forEach((i, k) => deltas.set(d.subarray(4 * k, 4 * k + 4), 4 * i));
  }
  return { labels, deltas, numPositive: pos.length, numNegative: neg.length };
}
