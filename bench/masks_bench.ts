/**
 * Mask paste + RLE encoding (300 detections, 800x1333) and mask targets
 * (256 RoIs). The side-by-side table with torchvision: bench/masks.ts.
 */
import { Rng } from "../core/rng.ts";
import { encodeMask, maskToSegmentation } from "../eval/rle_encode.ts";
import { maskTargets } from "../model/masks/mask_targets.ts";
import { pasteMasks } from "../model/masks/paste_masks.ts";

const [H, W, M] = [800, 1333, 28];
const rng = new Rng(5);

function boxes(n: number): Float32Array {
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const bw = Math.exp(rng.uniform(2.8, 6.4)), bh = Math.exp(rng.uniform(2.8, 6.4));
    const x = rng.uniform(0, W - bw), y = rng.uniform(0, H - bh);
    out.set([x, y, x + bw, y + bh], 4 * i);
  }
  return out;
}

const detections = boxes(300);
const probs = new Float32Array(300 * M * M).map(() => rng.float());
const bits = new Uint8Array(H * W);
for (let x = 300; x < 900; x++) bits.fill(1, x * H + 200, x * H + 600);
const square = encodeMask({ height: H, width: W, x: 0, y: 0, cropWidth: W, cropHeight: H, bits });
const rois = boxes(256);

Deno.bench("paste and RLE-encode 300 masks into 800x1333", () => {
  pasteMasks(probs, detections, { imageHeight: H, imageWidth: W }).map(maskToSegmentation);
});

Deno.bench("mask targets of 256 RoIs, M = 28", () => {
  maskTargets({ masks: { height: H, width: W, rles: [square] }, boxes: rois, matched: new Int32Array(256), size: M });
});
