// Run-length masks with COCO's conventions (column-major, background run first), bit for bit like pycocotools.

export interface Rle {
  h: number;
  w: number;
  counts: Uint32Array;
}

/**
 * Decode COCO's compressed counts string (6-bit groups, deltas from the 3rd run on).
 *
 * @example
 * ```ts
 * decodeRle({ size: [2, 2], counts: "02" }).counts; // Uint32Array [0, 2]
 * ```
 */
export function decodeRle(json: { size: [number, number]; counts: string }): Rle {
  const s = json.counts;
  const out = new Uint32Array(s.length);
  let m = 0, p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = true;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10)) x -= 2 ** (5 * k);
    }
    if (m > 2) x += out[m - 2];
    out[m++] = x >>> 0;
  }
  return { h: json.size[0], w: json.size[1], counts: out.slice(0, m) };
}

/**
 * Rasterise one polygon [x0, y0, x1, y1, ...] the way pycocotools does
 * (boundary traced at 5x, sampled at pixel centres).
 *
 * @example
 * ```ts
 * rleArea(polygonToRle([0, 0, 0, 10, 10, 10, 10, 0], 20, 20)); // 100
 * ```
 */
export function polygonToRle(xy: ArrayLike<number>, h: number, w: number): Rle {
  const k = Math.floor(xy.length / 2), scale = 5;
  const x = new Int32Array(k + 1), y = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[2 * j] + 0.5);
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[2 * j + 1] + 0.5);
  x[k] = x[0];
  y[k] = y[0];
  let m = 0;
  for (let j = 0; j < k; j++) m += Math.max(Math.abs(x[j] - x[j + 1]), Math.abs(y[j] - y[j + 1])) + 1;
  const u = new Int32Array(m), v = new Int32Array(m);
  m = 0;
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) [xs, xe, ys, ye] = [xe, xs, ye, ys];
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = Math.trunc(ys + s * t + 0.5); // NaN (a repeated point) stores 0, never read as a boundary
        m++;
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = Math.trunc(xs + s * t + 0.5);
        m++;
      }
    }
  }
  // Keep the points where the traced boundary crosses a pixel column centre.
  const starts: number[] = [];
  for (let j = 1; j < m; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    starts.push((xd * h + yd) >>> 0);
  }
  starts.push((h * w) >>> 0);
  const a = Uint32Array.from(starts).sort();
  let prev = 0;
  for (let j = 0; j < a.length; j++) {
    const t = a[j];
    a[j] -= prev;
    prev = t;
  }
  const b: number[] = [a[0]];
  for (let j = 1; j < a.length;) {
    if (a[j] > 0) b.push(a[j++]);
    else {
      j++;
      if (j < a.length) b[b.length - 1] += a[j++];
    }
  }
  return { h, w, counts: Uint32Array.from(b) };
}

/**
 * Union of masks of one size (pycocotools `merge` with intersect off).
 *
 * @example
 * ```ts
 * rleArea(unionRle([polygonToRle([0, 0, 0, 4, 4, 4, 4, 0], 9, 9), polygonToRle([2, 2, 2, 6, 6, 6, 6, 2], 9, 9)]));
 * ```
 */
export function unionRle(masks: Rle[]): Rle {
  if (masks.length === 1) return masks[0];
  const { h, w } = masks[0];
  let acc = masks[0].counts;
  for (let i = 1; i < masks.length; i++) {
    const b = masks[i];
    if (b.h !== h || b.w !== w) return { h: 0, w: 0, counts: new Uint32Array(0) };
    const out: number[] = [];
    let ca = acc[0] ?? 0, cb = b.counts[0] ?? 0, ia = 1, ib = 1, va = false, vb = false, v: boolean = false;
    let run = 0, left = 1;
    while (left > 0) {
      const c = Math.min(ca, cb);
      run += c;
      left = 0;
      ca -= c;
      if (!ca && ia < acc.length) (ca = acc[ia++], va = !va);
      left += ca;
      cb -= c;
      if (!cb && ib < b.counts.length) (cb = b.counts[ib++], vb = !vb);
      left += cb;
      const vp: boolean = v;
      v = va || vb;
      if (v !== vp || left === 0) (out.push(run), run = 0);
    }
    acc = Uint32Array.from(out);
  }
  return { h, w, counts: acc };
}

export function rleArea(mask: Rle): number {
  let a = 0;
  for (let j = 1; j < mask.counts.length; j += 2) a += mask.counts[j];
  return a;
}

/** Tight box [x, y, w, h] of the foreground (pycocotools `toBbox`). */
export function rleToBbox(mask: Rle): [number, number, number, number] {
  const { h } = mask, c = mask.counts;
  const m = Math.floor(c.length / 2) * 2;
  if (m === 0) return [0, 0, 0, 0];
  let xs = mask.w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (let j = 0; j < m; j++) {
    cc += c[j];
    const t = cc - (j % 2), yy = t % h, xx = (t - yy) / h;
    if (j % 2 === 0) xp = xx;
    else if (xp < xx) (ys = 0, ye = h - 1);
    xs = Math.min(xs, xx);
    xe = Math.max(xe, xx);
    ys = Math.min(ys, yy);
    ye = Math.max(ye, yy);
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

/**
 * Mask IoU as pycocotools computes it (never crowd): 0 when the masks' boxes do
 * not overlap, -1 when the sizes differ, else intersection over union.
 */
export function rleIou(dt: Rle, dtBox: ArrayLike<number>, gt: Rle, gtBox: ArrayLike<number>): number {
  const iw = Math.min(dtBox[2] + dtBox[0], gtBox[2] + gtBox[0]) - Math.max(dtBox[0], gtBox[0]);
  if (iw <= 0) return 0;
  const ih = Math.min(dtBox[3] + dtBox[1], gtBox[3] + gtBox[1]) - Math.max(dtBox[1], gtBox[1]);
  if (ih <= 0) return 0;
  if (dt.h !== gt.h || dt.w !== gt.w) return -1;
  const a = dt.counts, b = gt.counts;
  let ca = a[0], cb = b[0], ia = 1, ib = 1, va = false, vb = false, inter = 0, union = 0, left = 1;
  while (left > 0) {
    const c = Math.min(ca, cb);
    if (va || vb) {
      union += c;
      if (va && vb) inter += c;
    }
    left = 0;
    ca -= c;
    if (!ca && ia < a.length) (ca = a[ia++], va = !va);
    left += ca;
    cb -= c;
    if (!cb && ib < b.length) (cb = b[ib++], vb = !vb);
    left += cb;
  }
  if (inter === 0) union = 1;
  return inter / union;
}
