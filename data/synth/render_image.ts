// A noisy background with unlabelled clutter, then labelled objects; later ones may hide up to 40% of earlier ones.
import type { Rng } from "../../core/rng.ts";
import { COLOURS, textureDark } from "./appearance.ts";
import type { SynthCategory } from "./catalog.ts";
import { type Canvas, createCanvas, forEachPixelInPolygon } from "./raster.ts";
import { shapeOutline } from "./shapes.ts";

/** One labelled object as drawn: polygon in pixels (amodal outline), box [x, y, w, h], polygon area. */
export interface DrawnObject {
  category: number;
  polygon: number[];
  bbox: [number, number, number, number];
  area: number;
}

export interface DrawnImage {
  rgb: Uint8Array;
  objects: DrawnObject[];
}

const MIN_VISIBLE = 0.6;
const MIN_PIXELS = 12;

function _clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function _mutedColour(rng: Rng): [number, number, number] {
  const grey = 70 + rng.int(110);
  return [0, 1, 2].map(() => _clamp8(grey + rng.int(60) - 30)) as [number, number, number];
}

function _background(canvas: Canvas, rng: Rng): void {
  const a = _mutedColour(rng);
  const b = _mutedColour(rng);
  const dir = rng.float() * 2 * Math.PI;
  const dx = Math.cos(dir) / canvas.width;
  const dy = Math.sin(dir) / canvas.height;
  const { rgb, width, height } = canvas;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + (x - width / 2) * dx + (y - height / 2) * dy));
      const noise = rng.int(21) - 10;
      const i = 3 * (y * width + x);
      for (let c = 0; c < 3; c++) rgb[i + c] = _clamp8(a[c] + (b[c] - a[c]) * t + noise);
    }
  }
}

function _clutter(canvas: Canvas, rng: Rng): void {
  const n = 2 + rng.int(6);
  const size = Math.min(canvas.width, canvas.height);
  for (let k = 0; k < n; k++) {
    const colour = _mutedColour(rng);
    const cx = rng.float() * canvas.width;
    const cy = rng.float() * canvas.height;
    let poly: number[];
    if (rng.float() < 0.5) {
      // A thin line segment as a long narrow quad.
      const len = size * (0.2 + 0.6 * rng.float());
      const th = 0.6 + rng.float() * 1.2;
      const ang = rng.float() * Math.PI;
      const [ux, uy, vx, vy] = [
        Math.cos(ang) * len / 2,
        Math.sin(ang) * len / 2,
        -Math.sin(ang) * th,
        Math.cos(ang) * th,
      ];
      poly = [
        cx - ux - vx,
        cy - uy - vy,
        cx + ux - vx,
        cy + uy - vy,
        cx + ux + vx,
        cy + uy + vy,
        cx - ux + vx,
        cy - uy + vy,
      ];
    } else {
      // An irregular blob that matches no category's outline.
      const r = size * (0.03 + 0.08 * rng.float());
      const m = 6 + rng.int(4);
      poly = [];
      for (let i = 0; i < m; i++) {
        const ang = (2 * Math.PI * (i + 0.4 * rng.float())) / m;
        const rr = r * (0.5 + 0.5 * rng.float());
        poly.push(cx + rr * Math.cos(ang), cy + rr * Math.sin(ang));
      }
    }
    forEachPixelInPolygon(poly, canvas.width, canvas.height, (i) => {
      canvas.rgb.set(colour, 3 * i);
    });
  }
}

function _outlineAt(cat: SynthCategory, cx: number, cy: number, half: number, angle: number, aspect: number): number[] {
  const unit = shapeOutline(cat.shape);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const out: number[] = new Array(unit.length);
  for (let i = 0; i < unit.length; i += 2) {
    const x = unit[i] * half * aspect;
    const y = unit[i + 1] * half / aspect;
    out[i] = cx + x * cos - y * sin;
    out[i + 1] = cy + x * sin + y * cos;
  }
  return out;
}

function _polygonArea(p: readonly number[]): number {
  let s = 0;
  for (let i = 0, j = p.length - 2; i < p.length; j = i, i += 2) s += p[j] * p[i + 1] - p[i] * p[j + 1];
  return Math.abs(s) / 2;
}

/** Draw one image showing the given categories, one to three instances each. */
export function drawImage(
  options: { width: number; height: number; categories: readonly SynthCategory[]; show: readonly number[]; rng: Rng },
): DrawnImage {
  const { width, height, categories, show, rng } = options;
  const canvas = createCanvas(width, height);
  _background(canvas, rng);
  _clutter(canvas, rng);
  const instances: number[] = [];
  for (const cat of show) {
    const n = rng.float() < 0.35 ? 2 + rng.int(2) : 1;
    for (let k = 0; k < n; k++) instances.push(cat);
  }
  rng.shuffle(instances);
  const minDim = Math.min(width, height);
  const full: number[] = [];
  const visible: number[] = [];
  const objects: DrawnObject[] = [];
  const pixels: number[] = [];
  for (const catIndex of instances) {
    const cat = categories[catIndex];
    for (let attempt = 0; attempt < 12; attempt++) {
      const half = Math.exp(Math.log(minDim * 0.06) + rng.float() * Math.log(0.3 / 0.06)) * (attempt < 6 ? 1 : 0.6);
      const cx = half + rng.float() * (width - 2 * half);
      const cy = half + rng.float() * (height - 2 * half);
      const angle = rng.float() * 2 * Math.PI;
      const aspect = 0.85 + 0.3 * rng.float();
      const poly = _outlineAt(cat, cx, cy, half, angle, aspect);
      pixels.length = 0;
      forEachPixelInPolygon(poly, width, height, (i) => pixels.push(i));
      if (pixels.length < MIN_PIXELS) continue;
      const covered = new Map<number, number>();
      for (const i of pixels) {
        const o = canvas.owner[i];
        if (o > 0) covered.set(o - 1, (covered.get(o - 1) ?? 0) + 1);
      }
      let ok = true;
      for (const [j, c] of covered) if (visible[j] - c < MIN_VISIBLE * full[j]) ok = false;
      if (!ok) continue;
      for (const [j, c] of covered) visible[j] -= c;
      const index = objects.length;
      const main = COLOURS[cat.colour].rgb;
      const period = Math.max(3, half * 0.45);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (const i of pixels) {
        const dx = (i % width) + 0.5 - cx;
        const dy = Math.floor(i / width) + 0.5 - cy;
        const u = dx * cos + dy * sin;
        const v = -dx * sin + dy * cos;
        const shade = textureDark(cat.texture, u + half, v + half, period) ? 0.45 : 1;
        const noise = rng.int(13) - 6;
        for (let c = 0; c < 3; c++) canvas.rgb[3 * i + c] = _clamp8(main[c] * shade + noise);
        canvas.owner[i] = index + 1;
      }
      full.push(pixels.length);
      visible.push(pixels.length);
      const rounded = poly.map((v, k) => Math.round(Math.min(k % 2 ? height : width, Math.max(0, v)) * 100) / 100);
      let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
      for (let k = 0; k < rounded.length; k += 2) {
        x0 = Math.min(x0, rounded[k]);
        x1 = Math.max(x1, rounded[k]);
        y0 = Math.min(y0, rounded[k + 1]);
        y1 = Math.max(y1, rounded[k + 1]);
      }
      const r2 = (v: number) => Math.round(v * 100) / 100;
      objects.push({
        category: catIndex,
        polygon: rounded,
        bbox: [x0, y0, r2(x1 - x0), r2(y1 - y0)],
        area: r2(_polygonArea(rounded)),
      });
      break;
    }
  }
  return { rgb: canvas.rgb, objects };
}
