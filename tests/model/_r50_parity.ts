/**
 * What the r50_fpn parity tests share: the detector with the fixture's
 * weights, the fixture's input batch, and conversions from torchvision's
 * layouts to tailor's.
 */
import { Rng } from "../../core/rng.ts";
import { detectorConfig } from "../../model/config.ts";
import { Detector, type ImageBatch } from "../../model/detector.ts";
import { type Fixture, torchvisionFixture } from "./_torchvision_fixture.ts";
import { fixtureImagePixels, fixtureWeight, torchvisionNormalize } from "./_torchvision_weights.ts";

/** The fixture's categories (torchvision's num_classes counts the background). */
export const NUM_CLASSES = 5;

/**
 * `r50_fpn` in torchvision's predictor form (the `ce` loss), with every parameter set to the
 * fixture's weights, and the fixture's post-processing settings.
 */
export function fixtureDetector(fx: Fixture = torchvisionFixture(), over: Record<string, unknown> = {}): Detector {
  const cfg = detectorConfig("r50_fpn", {
    test: { scoreThreshold: fx.meta.score_thresh, detectionsPerImage: fx.meta.detections_per_img },
    ...over,
  });
  const det = new Detector(cfg, NUM_CLASSES, NUM_CLASSES + 1, new Rng(1), 0, { loss: "ce" });
  det.build();
  for (const [name, t] of det.params.entries()) det.params.write(name, fixtureWeight(name, t.shape));
  return det;
}

/** The fixture's two images, normalised as torchvision does and padded to 128 x 192. */
export function fixtureBatch(fx: Fixture = torchvisionFixture()): ImageBatch {
  const [H, W] = [128, 192];
  const images = new Float32Array(fx.meta.sizes.length * 3 * H * W);
  fx.meta.sizes.forEach(([h, w], b) => {
    const x = torchvisionNormalize(fixtureImagePixels(`image${b}`, h, w), h, w);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        images.set(x.subarray((c * h + y) * w, (c * h + y + 1) * w), ((b * 3 + c) * H + y) * W);
      }
    }
  });
  return {
    images,
    batch: fx.meta.sizes.length,
    height: H,
    width: W,
    sizes: fx.meta.sizes.map(([height, width]) => ({ height, width })),
  };
}

/**
 * torchvision's per-level RPN maps [B, k * A, h, w] as tailor's rows: per image, levels in
 * order, then (y, x, anchor), k values per anchor.
 */
export function rpnRows(fx: Fixture, what: "objectness" | "deltas", k: number): Float32Array {
  const levels = [0, 1, 2, 3, 4].map((l) => fx.get(`rpn.${what}.${l}`));
  const B = levels[0].shape[0];
  const perImage = levels.reduce((s, t) => s + t.data.length / B, 0);
  const out = new Float32Array(B * perImage);
  for (let b = 0; b < B; b++) {
    let at = b * perImage;
    for (const t of levels) {
      const [, KA, h, w] = t.shape, A = KA / k;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let a = 0; a < A; a++) {
            for (let j = 0; j < k; j++) out[at++] = t.data[((b * KA + a * k + j) * h + y) * w + x];
          }
        }
      }
    }
  }
  return out;
}

/** Rows of `data` ([R, width]) put back in the order given: row j of `data` is row `order[j]`. */
export function unpermute(data: Float32Array, order: Int32Array): Float32Array {
  const width = data.length / order.length, out = new Float32Array(data.length);
  order.forEach((i, j) => out.set(data.subarray(j * width, (j + 1) * width), i * width));
  return out;
}

/** RoI rows [R * 5] (image, box) of per-image boxes. */
export function roiRows(boxes: Float32Array[]): Float32Array {
  const n = boxes.reduce((s, b) => s + b.length / 4, 0), out = new Float32Array(5 * n);
  let k = 0;
  boxes.forEach((bx, b) => {
    for (let i = 0; i < bx.length; i += 4, k++) out.set([b, bx[i], bx[i + 1], bx[i + 2], bx[i + 3]], 5 * k);
  });
  return out;
}
