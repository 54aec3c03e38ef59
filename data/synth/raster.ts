// Scanline rasterisation (even-odd rule, pixel centres) with a per-pixel owner map, so occlusion can be measured.

/** An RGB image being drawn, with the owner (object index + 1, 0 = none) of each pixel. */
export interface Canvas {
  width: number;
  height: number;
  rgb: Uint8Array;
  owner: Uint16Array;
}

export function createCanvas(width: number, height: number): Canvas {
  return { width, height, rgb: new Uint8Array(width * height * 3), owner: new Uint16Array(width * height) };
}

const _xs: number[] = [];

/** Call `visit(pixelIndex, x, y)` for every pixel whose centre lies inside the polygon, row by row. */
export function forEachPixelInPolygon(
  poly: ArrayLike<number>,
  width: number,
  height: number,
  visit: (index: number, x: number, y: number) => void,
): void {
  const n = poly.length / 2;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minY = Math.min(minY, poly[2 * i + 1]);
    maxY = Math.max(maxY, poly[2 * i + 1]);
  }
  const y0 = Math.max(0, Math.ceil(minY - 0.5));
  const y1 = Math.min(height - 1, Math.floor(maxY - 0.5));
  for (let y = y0; y <= y1; y++) {
    const cy = y + 0.5;
    _xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const ay = poly[2 * i + 1];
      const by = poly[2 * j + 1];
      // Half-open on y so a vertex on the scanline is counted once.
      if ((ay <= cy) !== (by <= cy)) {
        const ax = poly[2 * i];
        const bx = poly[2 * j];
        _xs.push(ax + ((cy - ay) * (bx - ax)) / (by - ay));
      }
    }
    _xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < _xs.length; k += 2) {
      const x0 = Math.max(0, Math.ceil(_xs[k] - 0.5));
      const x1 = Math.min(width - 1, Math.ceil(_xs[k + 1] - 0.5) - 1);
      for (let x = x0; x <= x1; x++) visit(y * width + x, x, y);
    }
  }
}
