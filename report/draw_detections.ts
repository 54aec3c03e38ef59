// Detections over an image as a PNG: truth dashed, results solid with labels where no other label is.
import { Buffer } from "node:buffer";
import sharp, { type OverlayOptions } from "sharp";
import type { Rle } from "../eval/rle.ts";
import { placeLabels } from "./label_layout.ts";
import { maskOverlay } from "./mask_overlay.ts";

const MIN_WIDTH_PX = 320;

/** Distinct colours for categories, in order of use (Sasha Trubetskoy's list, the palest left out). */
export const CATEGORY_COLORS: readonly string[] = [
  "#e6194b",
  "#3cb44b",
  "#4363d8",
  "#f58231",
  "#911eb4",
  "#42d4f4",
  "#f032e6",
  "#bfef45",
  "#469990",
  "#9a6324",
  "#800000",
  "#808000",
  "#000075",
  "#ffe119",
  "#a9a9a9",
];

export interface DrawnBox {
  bbox: number[];
  /** Text beside a result, e.g. "cat 0.91"; truth boxes have none. */
  label: string;
  kind: "truth" | "result";
  /** Its category's name: one colour per category, listed in the legend. Default: the label. */
  category?: string;
  mask?: Rle;
}

export interface DrawnFigure {
  width: number;
  height: number;
  imageHeight: number;
  zoom: number;
  legend: [string, string][];
  labelsLeftOut: number;
}

/** Draw `boxes` over the image and write a PNG; pass results by descending score (first pick of label spots). */
export async function drawDetections(imagePath: string, boxes: DrawnBox[], outPath: string): Promise<DrawnFigure> {
  const meta = await sharp(imagePath).metadata();
  const iw = meta.width ?? 1, ih = meta.height ?? 1;
  const zoom = Math.max(1, Math.round(MIN_WIDTH_PX / iw));
  const width = iw * zoom, height = ih * zoom;
  const stroke = Math.max(1, Math.round(Math.min(width, height) / 200));
  const font = Math.max(11, Math.round(Math.min(width, height) / 30));
  const colors = new Map<string, string>();
  const colorOf = (b: DrawnBox) => {
    const key = b.category ?? b.label;
    if (!colors.has(key)) colors.set(key, CATEGORY_COLORS[colors.size % CATEGORY_COLORS.length]);
    return colors.get(key)!;
  };
  // Truth first, so an image's own categories keep their colours from run to run.
  for (const b of boxes) if (b.kind === "truth") colorOf(b);
  const rects = boxes.map((b) => {
    // Inset by half the stroke so the drawn edge covers the box's own border pixels.
    const [x, y] = b.bbox.slice(0, 2).map((v) => Math.round(v * zoom) + stroke / 2);
    const [w, h] = b.bbox.slice(2, 4).map((v) => Math.max(0, Math.round(v * zoom) - stroke));
    return { x, y, w, h };
  });
  const shapes = boxes.map((b, i) => {
    const { x, y, w, h } = rects[i];
    const dash = b.kind === "truth" ? ` stroke-dasharray="${4 * stroke},${2 * stroke}"` : "";
    return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colorOf(b)}" ` +
      `stroke-width="${stroke}"${dash}/>`;
  });
  const results = boxes.map((b, i) => ({ b, i })).filter(({ b }) => b.kind === "result" && b.label);
  const lineHeight = Math.round(font * 1.25);
  // DejaVu Sans averages ~0.6 em per character; 0.65 keeps the estimate on the safe side.
  const sizeOf = (text: string) => ({ w: Math.ceil(0.65 * font * text.length) + 2, h: lineHeight });
  const spots = placeLabels(results.map(({ i }) => rects[i]), results.map(({ b }) => sizeOf(b.label)), {
    w: width,
    h: height,
  });
  const labels = results.map(({ b }, k) => {
    const s = spots[k];
    if (!s) return "";
    return `<text x="${s.x + 1}" y="${s.y + font}" font-family="DejaVu Sans" font-size="${font}" ` +
      `fill="${colorOf(b)}" stroke="white" stroke-width="${font / 6}" paint-order="stroke">${_escape(b.label)}</text>`;
  });
  const truth = boxes.some((b) => b.kind === "truth");
  const legend = _legend([...colors], { top: height, width, font, lineHeight, truth });
  const totalHeight = height + legend.height;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${totalHeight}">` +
    `${shapes.join("")}${labels.join("")}${legend.svg}</svg>`;
  const masks = boxes.filter((b) => b.mask && b.kind === "result").map((b) => ({
    mask: b.mask!,
    rgb: _rgb(colorOf(b)),
  }));
  const layers: OverlayOptions[] = [];
  if (masks.length) {
    const raw = maskOverlay(masks, iw, ih, zoom);
    layers.push({ input: Buffer.from(raw), raw: { width, height, channels: 4 }, top: 0, left: 0 });
  }
  layers.push({ input: Buffer.from(svg), top: 0, left: 0 });
  // Enlarge, add the white legend strip below, then draw; sharp composites after resize and extend.
  const png = await sharp(imagePath).resize(width, height, { kernel: "nearest" })
    .extend({ bottom: legend.height, background: "#ffffff" }).composite(layers).png().toBuffer();
  await Deno.writeFile(outPath, png);
  return {
    width,
    height: totalHeight,
    imageHeight: height,
    zoom,
    legend: [...colors],
    labelsLeftOut: spots.filter((s) => s === null).length,
  };
}

function _legend(
  entries: [string, string][],
  o: { top: number; width: number; font: number; lineHeight: number; truth: boolean },
): { svg: string; height: number } {
  const pad = Math.round(o.font / 2), swatch = o.font;
  const items = [...entries.map(([name, color]) => ({ name, color })), ...(o.truth ? [{ name: "", color: "" }] : [])];
  const parts: string[] = [];
  let x = pad, y = o.top + pad;
  for (const item of items) {
    const text = item.color ? item.name : "dashed: ground truth, solid: result";
    const w = swatch * (item.color ? 1.5 : 0) + Math.ceil(0.65 * o.font * text.length) + 2 * pad;
    if (x > pad && x + w > o.width) {
      x = pad;
      y += o.lineHeight;
    }
    if (item.color) {
      parts.push(`<rect x="${x}" y="${y + 2}" width="${swatch}" height="${swatch - 2}" fill="${item.color}"/>`);
    }
    const tx = x + (item.color ? 1.5 * swatch : 0);
    parts.push(
      `<text x="${tx}" y="${y + o.font}" font-family="DejaVu Sans" font-size="${o.font}" fill="#111">` +
        `${_escape(text)}</text>`,
    );
    x += w;
  }
  return { svg: parts.join(""), height: y + o.lineHeight + pad - o.top };
}

function _rgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function _escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
