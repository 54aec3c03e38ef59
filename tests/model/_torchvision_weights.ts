/**
 * The hash-derived weights and inputs of the torchvision parity fixtures
 * (tests/model/fixtures/torchvision/generate.py), regenerated bit for bit:
 * element i of the tensor named `key` is murmur3's finaliser of
 * (i * 0x9E3779B1 + fnv1a(key)), its top 24 bits mapped to [-1, 1), then
 * scaled and shifted in float32 as the script's `weight_spec` says.
 */

/** FNV-1a, 32 bits, over the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** `n` values in [-1, 1), multiples of 2^-23 (exact in float32). */
export function unitValues(key: string, n: number): Float32Array {
  const seed = fnv1a32(key), out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 0x9e3779b1) + seed) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    out[i] = ((x >>> 8) - 8388608) * 2 ** -23;
  }
  return out;
}

/** The (scale, offset) of a state-dict entry, as the generator's `weight_spec`. */
export function weightSpec(name: string, shape: readonly number[]): [number, number] {
  let fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  if (name.endsWith("conv5_mask.weight")) fanIn = shape[0];
  const he = Math.sqrt(6 / fanIn), lin = Math.sqrt(3 / fanIn);
  if (name.endsWith("running_var")) return [0.5, 1];
  if (name.endsWith("running_mean")) return [0.1, 0];
  if (name.startsWith("backbone.body")) {
    const lastBn = name.includes(".bn3.") || name.includes(".downsample.1.");
    if (name.endsWith(".weight") && (name.includes(".bn") || name.includes(".downsample.1."))) {
      return lastBn ? [0.2, 0.5] : [0.25, 0.75];
    }
    if (name.endsWith(".bias")) return [0.1, 0];
    return [he, 0];
  }
  if (name.endsWith(".bias")) return [0.05, 0];
  if (name.startsWith("backbone.fpn")) return [0.5 * lin, 0];
  if (/(cls_logits|cls_score|mask_fcn_logits)\.weight$/.test(name)) return [lin, 0];
  if (name.endsWith("bbox_pred.weight")) return [0.1 * lin, 0];
  return [he, 0];
}

/** The values of one state-dict entry: f32(f32(u * scale) + offset). */
export function fixtureWeight(name: string, shape: readonly number[]): Float32Array {
  const [scale, offset] = weightSpec(name, shape).map(Math.fround);
  const n = shape.reduce((a, b) => a * b, 1);
  const u = unitValues(name, n);
  for (let i = 0; i < n; i++) u[i] = Math.fround(Math.fround(u[i] * scale) + offset);
  return u;
}

/** An image's uint8 RGB pixels, CHW, as the generator draws them (`image_pixels`). */
export function fixtureImagePixels(key: string, height: number, width: number): Float32Array {
  const u = unitValues(key, 3 * height * width);
  for (let i = 0; i < u.length; i++) u[i] = Math.floor(Math.fround((u[i] + 1) * 127.5));
  return u;
}

/**
 * Pixels normalised as torchvision's transform does, in float32: (p / 255 - mean) / std, one
 * rounding per operation.
 */
export function torchvisionNormalize(pixels: Float32Array, height: number, width: number): Float32Array {
  const mean = [0.485, 0.456, 0.406].map(Math.fround), std = [0.229, 0.224, 0.225].map(Math.fround);
  const f = Math.fround, out = new Float32Array(pixels.length), plane = height * width;
  for (let i = 0; i < pixels.length; i++) {
    const c = Math.floor(i / plane);
    out[i] = f(f(f(pixels[i] / 255) - mean[c]) / std[c]);
  }
  return out;
}
