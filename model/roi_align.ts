/**
 * Differentiable RoIAlign: features [B, C, H, W], RoIs [R, 5] (batch index, x1, y1, x2, y2 in image
 * pixels) -> [R, C, P, P]. Gradient to the features only; RoIs are constants (detached proposals).
 */
import {
  channelsLastKernel,
  paddedChannels,
  roiAlignBackwardKernel,
  roiAlignBinKernel,
  roiAlignForwardKernel,
  type RoiAlignParams,
  roiAlignTiles,
  roiAlignWeightsKernel,
} from "../kernels/roi_align.ts";
import { record } from "../tensor/autograd.ts";
import { rt, Tensor } from "../tensor/tensor.ts";

export interface RoiAlignOptions {
  /** Output bins per side (P). */
  outputSize: number;
  /** Feature pixels per image pixel: 1 / stride of the level. */
  spatialScale: number;
  /** Samples per bin and axis; 0 = adaptive ceil(RoI size / P). Default 2. */
  samplingRatio?: number;
  /** Half-pixel offset of detectron2's ROIAlignV2. Default true. */
  aligned?: boolean;
  /** Channels per GPU invocation (a tuning knob). Default 16. */
  chunk?: number;
}

/**
 * Bilinear P x P pooling of each RoI; RoIs whose batch index is outside [0, B) pool to zeros.
 * @param rois [R, 5] f32: batch index, x1, y1, x2, y2 in image pixels.
 */
export function roiAlign(features: Tensor, rois: Tensor, opts: RoiAlignOptions): Tensor {
  const p = roiAlignParams(features, rois, opts);
  const out = new Tensor([p.rois, p.channels, p.pooled, p.pooled]);
  if (out.size === 0) return out;
  const r = rt();
  const x4 = _channelsLast(features.buffer, p.batch, p.channels, p.height * p.width);
  r.dispatch(roiAlignForwardKernel, p, [x4, rois.buffer, out.buffer], new Uint32Array([p.rois, 0, 0, 0]));
  r.release(x4);
  return record(out, "roiAlign", [features, rois], (g) => [roiAlignGrad(g, rois, p), null]);
}

export function roiAlignParams(features: Tensor, rois: Tensor, opts: RoiAlignOptions): RoiAlignParams {
  if (features.shape.length !== 4) throw new Error(`roiAlign features must be [B, C, H, W], got [${features.shape}]`);
  if (rois.shape.length !== 2 || rois.shape[1] !== 5) {
    throw new Error(`roiAlign rois must be [R, 5], got [${rois.shape}]`);
  }
  const { outputSize, spatialScale, samplingRatio = 2, aligned = true, chunk } = opts;
  if (!(Number.isInteger(outputSize) && outputSize > 0)) throw new Error(`Invalid roiAlign outputSize "${outputSize}"`);
  if (!(Number.isInteger(samplingRatio) && samplingRatio >= 0)) {
    throw new Error(`Invalid roiAlign samplingRatio "${samplingRatio}": expected an integer >= 0`);
  }
  const [batch, channels, height, width] = features.shape;
  return {
    batch,
    channels,
    height,
    width,
    pooled: outputSize,
    samplingRatio,
    spatialScale,
    aligned,
    rois: rois.shape[0],
    chunk,
  };
}

/** The gradient of the features given the gradient `g` [R, C, P, P] of the output. */
export function roiAlignGrad(g: Tensor, rois: Tensor, p: RoiAlignParams): Tensor {
  const r = rt();
  const dx = new Tensor([p.batch, p.channels, p.height, p.width]);
  if (dx.size === 0) return dx;
  const [tx, ty] = roiAlignTiles(p);
  const nTiles = p.batch * tx * ty;
  const count = r.buffer(nTiles * 4, "roi_align_count");
  const list = r.buffer(Math.max(1, nTiles * p.rois) * 4, "roi_align_list");
  const wy = r.buffer(Math.max(1, p.rois * p.height * p.pooled) * 4, "roi_align_wy");
  const wx = r.buffer(Math.max(1, p.rois * p.width * p.pooled) * 4, "roi_align_wx");
  const ry = r.buffer(Math.max(1, p.rois * p.height) * 4, "roi_align_ry");
  const rx = r.buffer(Math.max(1, p.rois * p.width) * 4, "roi_align_rx");
  const u = new Uint32Array([p.rois, 0, 0, 0]);
  r.dispatch(roiAlignBinKernel, p, [rois.buffer, count, list], u);
  if (p.rois > 0) r.dispatch(roiAlignWeightsKernel, p, [rois.buffer, wy, wx, ry, rx], u);
  const g4 = _channelsLast(g.buffer, p.rois, p.channels, p.pooled * p.pooled);
  r.dispatch(roiAlignBackwardKernel, p, [g4, wy, wx, ry, rx, count, list, dx.buffer], u);
  for (const b of [count, list, wy, wx, ry, rx, g4]) r.release(b);
  return dx;
}

/** A pooled buffer holding [n, C, spatial] as [n, spatial, C padded to vec4s]; the caller releases it. */
function _channelsLast(src: GPUBuffer, n: number, channels: number, spatial: number): GPUBuffer {
  const r = rt();
  const out = r.buffer(Math.max(1, n * spatial * paddedChannels(channels)) * 4, "roi_align_channels_last");
  r.dispatch(channelsLastKernel, { channels, spatial, n }, [src, out], new Uint32Array([n, 0, 0, 0]));
  return out;
}

/** RoIs of several images as the [R, 5] rows `roiAlign` takes: image index, then the box. */
export function packRois(boxesPerImage: readonly ArrayLike<number>[]): Float32Array {
  const total = boxesPerImage.reduce((a, b) => a + b.length / 4, 0);
  const out = new Float32Array(total * 5);
  let k = 0;
  boxesPerImage.forEach((boxes, img) => {
    for (let i = 0; i < boxes.length; i += 4, k += 5) {
      out.set([img, boxes[i], boxes[i + 1], boxes[i + 2], boxes[i + 3]], k);
    }
  });
  return out;
}

/**
 * FPN level of each box (detectron2 `assign_boxes_to_levels`): floor(canonicalLevel +
 * log2(sqrt(area) / canonicalSize)), clamped to [minLevel, maxLevel], relative to minLevel.
 */
export function fpnLevels(
  boxes: ArrayLike<number>,
  opts: { minLevel: number; maxLevel: number; canonicalSize?: number; canonicalLevel?: number },
): Int32Array {
  const { minLevel, maxLevel, canonicalSize = 224, canonicalLevel = 4 } = opts;
  const out = new Int32Array(boxes.length >> 2);
  for (let i = 0; i < out.length; i++) {
    const area = (boxes[4 * i + 2] - boxes[4 * i]) * (boxes[4 * i + 3] - boxes[4 * i + 1]);
    const level = Math.floor(canonicalLevel + Math.log2(Math.sqrt(Math.max(area, 0)) / canonicalSize + 1e-8));
    out[i] = Math.min(Math.max(level, minLevel), maxLevel) - minLevel;
  }
  return out;
}
