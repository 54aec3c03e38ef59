/**
 * Mask targets as torchvision 0.14's `project_masks_on_boxes`: `roi_align(mask, roi, (M, M), 1, -1,
 * aligned=False)`, float32 bit for bit as its CPU kernel; RLEs decode only the columns RoIs reach.
 */
import type { InstanceMasks } from "../../data/masks/training_masks.ts";

const f = Math.fround;

export interface MaskTargetInputs {
  /** The image's ground-truth masks at network-input size. */
  masks: InstanceMasks;
  /** Positive RoIs [x1, y1, x2, y2] in network-input pixels, 4 per RoI. */
  boxes: ArrayLike<number>;
  /** Index into `masks.rles` of each RoI's matched ground truth. */
  matched: ArrayLike<number>;
  /** Output side M (28 for Mask R-CNN's head). */
  size: number;
}

/**
 * The [R, M, M] mask targets of one image's positive RoIs, in [0, 1].
 *
 * @example
 * ```ts
 * import { maskTargets } from "./mask_targets.ts";
 * const square = { h: 8, w: 8, counts: Uint32Array.of(18, 4, 4, 4, 4, 4, 4, 4, 4, 4, 10) };
 * const t = maskTargets({ masks: { height: 8, width: 8, rles: [square] }, boxes: [0, 0, 8, 8], matched: [0], size: 4 });
 * t.length; // 16
 * ```
 */
export function maskTargets(inputs: MaskTargetInputs): Float32Array {
  const { masks, boxes, matched, size: m } = inputs;
  const r = matched.length;
  if (boxes.length !== 4 * r) throw new Error(`maskTargets: ${boxes.length / 4} boxes for ${r} matches`);
  if (!(Number.isInteger(m) && m > 0)) throw new Error(`maskTargets: invalid size ${m}`);
  const out = new Float32Array(r * m * m);
  const { height: h, width: w } = masks;
  const order = Array.from({ length: r }, (_, i) => i).sort((a, b) => matched[a] - matched[b] || a - b);
  let scratch = new Uint8Array(0);
  for (let s = 0; s < r;) {
    const g = matched[order[s]];
    let e = s;
    while (e < r && matched[order[e]] === g) e++;
    const rle = masks.rles[g];
    if (!rle || rle.h !== h || rle.w !== w) {
      throw new Error(`maskTargets: no ${w}x${h} mask for ground truth ${g} (${masks.rles.length} masks)`);
    }
    // Samples lie in [x1, x1 + max(x2 - x1, 1)]; their bilinear neighbours one column further.
    let c0 = w, c1 = 0;
    for (let k = s; k < e; k++) {
      const i = order[k];
      const x1 = f(boxes[4 * i]), x2 = f(boxes[4 * i + 2]);
      c0 = Math.min(c0, Math.max(0, Math.floor(x1)));
      c1 = Math.max(c1, Math.min(w, Math.ceil(Math.max(x2, x1 + 1)) + 2));
    }
    c1 = Math.max(c1, c0);
    if (scratch.length < (c1 - c0) * h) scratch = new Uint8Array((c1 - c0) * h);
    _decodeColumns(rle.counts, h, c0, c1, scratch);
    for (let k = s; k < e; k++) {
      const i = order[k];
      _pool(scratch, { h, w, c0 }, boxes, i, m, out.subarray(i * m * m, (i + 1) * m * m));
    }
    s = e;
  }
  return out;
}

/** Columns [c0, c1) of a column-major RLE into `into` (h values per column). */
function _decodeColumns(counts: Uint32Array, h: number, c0: number, c1: number, into: Uint8Array): void {
  const from = c0 * h, to = c1 * h;
  into.fill(0, 0, to - from);
  let p = 0;
  for (let j = 0; j < counts.length && p < to; j++) {
    const end = p + counts[j];
    if (j % 2 === 1 && end > from) into.fill(1, Math.max(p, from) - from, Math.min(end, to) - from);
    p = end;
  }
}

/** Sample positions along one axis of a RoI: neighbour rows/columns and float32 weights; `low < 0` marks a sample outside. */
interface _Axis {
  low: Int32Array;
  high: Int32Array;
  near: Float32Array;
  far: Float32Array;
}

function _axis(start: number, bin: number, grid: number, m: number, extent: number): _Axis {
  const n = m * grid;
  const a: _Axis = {
    low: new Int32Array(n),
    high: new Int32Array(n),
    near: new Float32Array(n),
    far: new Float32Array(n),
  };
  for (let p = 0; p < m; p++) {
    const base = f(start + f(p * bin));
    for (let q = 0; q < grid; q++) {
      let v = f(base + f(f(f(q + 0.5) * bin) / grid));
      const k = p * grid + q;
      if (v < -1 || v > extent) {
        a.low[k] = -1;
        continue;
      }
      if (v <= 0) v = 0;
      let lo = Math.trunc(v), hi: number;
      if (lo >= extent - 1) {
        hi = lo = extent - 1;
        v = lo;
      } else hi = lo + 1;
      const frac = f(v - lo);
      a.low[k] = lo;
      a.high[k] = hi;
      a.far[k] = frac;
      a.near[k] = f(1 - frac);
    }
  }
  return a;
}

function _pool(
  bits: Uint8Array,
  at: { h: number; w: number; c0: number },
  boxes: ArrayLike<number>,
  i: number,
  m: number,
  out: Float32Array,
): void {
  const x1 = f(boxes[4 * i]), y1 = f(boxes[4 * i + 1]), x2 = f(boxes[4 * i + 2]), y2 = f(boxes[4 * i + 3]);
  // aligned=False: degenerate RoIs are treated as 1x1.
  const roiW = Math.max(f(x2 - x1), 1), roiH = Math.max(f(y2 - y1), 1);
  const binW = f(roiW / m), binH = f(roiH / m);
  const gridW = Math.ceil(binW), gridH = Math.ceil(binH);
  const count = Math.max(gridW * gridH, 1);
  const ys = _axis(y1, binH, gridH, m, at.h), xs = _axis(x1, binW, gridW, m, at.w);
  const { h, c0 } = at;
  for (let py = 0; py < m; py++) {
    for (let px = 0; px < m; px++) {
      let acc = 0;
      for (let iy = py * gridH; iy < (py + 1) * gridH; iy++) {
        const yl = ys.low[iy];
        if (yl < 0) continue;
        const yh = ys.high[iy], ly = ys.far[iy], hy = ys.near[iy];
        for (let ix = px * gridW; ix < (px + 1) * gridW; ix++) {
          const xl = xs.low[ix];
          if (xl < 0) continue;
          const lx = xs.far[ix], hx = xs.near[ix];
          const cl = (xl - c0) * h, ch = (xs.high[ix] - c0) * h;
          // Mask values are 0 or 1, so w * v is w or 0; the sum keeps the kernel's float32 order.
          const v1 = bits[cl + yl] ? f(hy * hx) : 0;
          const v2 = bits[ch + yl] ? f(hy * lx) : 0;
          const v3 = bits[cl + yh] ? f(ly * hx) : 0;
          const v4 = bits[ch + yh] ? f(ly * lx) : 0;
          acc = f(acc + f(f(f(v1 + v2) + v3) + v4));
        }
      }
      out[py * m + px] = f(acc / count);
    }
  }
}
