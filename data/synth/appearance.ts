// Neighbouring hues and similar textures are deliberately close, so categories stay confusable.

/** Colour names with their RGB; neighbours in this list are near in hue. */
export const COLOURS: readonly { name: string; rgb: readonly [number, number, number] }[] = [
  { name: "red", rgb: [220, 40, 40] },
  { name: "orange", rgb: [235, 130, 30] },
  { name: "yellow", rgb: [230, 210, 40] },
  { name: "lime", rgb: [150, 220, 40] },
  { name: "green", rgb: [40, 170, 60] },
  { name: "teal", rgb: [30, 170, 150] },
  { name: "cyan", rgb: [40, 200, 230] },
  { name: "blue", rgb: [40, 80, 220] },
  { name: "violet", rgb: [120, 60, 210] },
  { name: "magenta", rgb: [210, 50, 190] },
  { name: "pink", rgb: [240, 140, 170] },
  { name: "brown", rgb: [130, 80, 40] },
];

/** Texture names; a texture decides per pixel between the main colour and its dark shade. */
export const TEXTURES = [
  "solid",
  "hstripes",
  "vstripes",
  "diagonal",
  "checker",
  "dots",
  "rings",
  "grid",
  "zigzag",
  "speckle",
] as const;

export type TextureName = typeof TEXTURES[number];

/** Whether the texture shows the dark shade at (u, v), pixels from the object's centre along its rotated axes. */
export function textureDark(texture: TextureName, u: number, v: number, periodPx: number): boolean {
  const p = periodPx;
  const half = p / 2;
  const m = (x: number) => ((x % p) + p) % p;
  switch (texture) {
    case "solid":
      return false;
    case "hstripes":
      return m(v) < half;
    case "vstripes":
      return m(u) < half;
    case "diagonal":
      return m(u + v) < half;
    case "checker":
      return (m(u) < half) !== (m(v) < half);
    case "dots": {
      const du = m(u) - half;
      const dv = m(v) - half;
      return du * du + dv * dv < (p * p) / 10;
    }
    case "rings":
      return m(Math.sqrt(u * u + v * v)) < half;
    case "grid":
      return m(u) < p / 4 || m(v) < p / 4;
    case "zigzag":
      return m(v + Math.abs(m(u) - half)) < half;
    case "speckle": {
      // A fixed hash of the integer cell, so the pattern is deterministic.
      const h = Math.imul(Math.floor(u) * 73856093 ^ Math.floor(v) * 19349663, 0x27d4eb2d) >>> 0;
      return h % 3 === 0;
    }
  }
}
