/**
 * Detections drawn over an image: ground-truth boxes dashed, results solid
 * with category name and score, as a PNG.
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";

/** Images narrower than this are enlarged by a whole factor before drawing. */
const MIN_WIDTH_PX = 320;

/** A box to draw, [x, y, w, h] in image pixels. */
export interface DrawnBox {
  bbox: number[];
  label: string;
  kind: "truth" | "result";
}

/**
 * Draw `boxes` over the image at `imagePath` and write a PNG to `outPath`.
 *
 * @example
 * ```ts
 * await drawDetections("img/1.jpg", [{ bbox: [10, 10, 50, 40], label: "cat 0.91", kind: "result" }], "out.png");
 * ```
 */
export async function drawDetections(imagePath: string, boxes: DrawnBox[], outPath: string): Promise<void> {
  const meta = await sharp(imagePath).metadata();
  // Small images (synthetic sets are 64-128 px) are enlarged by a whole factor so labels stay readable.
  const zoom = Math.max(1, Math.round(MIN_WIDTH_PX / Math.max(1, meta.width ?? 1)));
  const width = (meta.width ?? 1) * zoom, height = (meta.height ?? 1) * zoom;
  const stroke = Math.max(1, Math.round(Math.min(width, height) / 200));
  const font = Math.max(11, Math.round(Math.min(width, height) / 30));
  const shapes = boxes.map((b) => {
    // Inset by half the stroke so the drawn edge covers the box's own border pixels.
    const [x, y] = b.bbox.slice(0, 2).map((v) => Math.round(v * zoom) + stroke / 2);
    const [w, h] = b.bbox.slice(2, 4).map((v) => Math.max(0, Math.round(v * zoom) - stroke));
    const color = b.kind === "truth" ? "#22c55e" : "#ef4444";
    const dash = b.kind === "truth" ? ` stroke-dasharray="${4 * stroke},${2 * stroke}"` : "";
    const rect = `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${color}" ` +
      `stroke-width="${stroke}"${dash}/>`;
    if (b.kind === "truth") return rect;
    const ty = Math.max(font, y - stroke);
    const label = `<text x="${x + 1}" y="${ty}" font-family="DejaVu Sans" font-size="${font}" fill="${color}" ` +
      `stroke="white" stroke-width="${font / 6}" paint-order="stroke">${_escape(b.label)}</text>`;
    return rect + label;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join("")}</svg>`;
  await sharp(imagePath).resize(width, height, { kernel: "nearest" })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).png().toFile(outPath);
}

function _escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
