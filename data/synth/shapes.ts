// Outlines as polygons in a unit frame (x, y in [-1, 1], y down): rasterising, boxes and masks from one description.

/** The shape names, in the order category ids are derived from. */
export const SHAPES = [
  "circle",
  "square",
  "triangle",
  "star",
  "hexagon",
  "diamond",
  "cross",
  "pentagon",
  "arrow",
  "crescent",
  "heart",
] as const;

export type ShapeName = typeof SHAPES[number];

function _regular(n: number, radius = 1, phase = -Math.PI / 2): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = phase + (2 * Math.PI * i) / n;
    out.push(radius * Math.cos(a), radius * Math.sin(a));
  }
  return out;
}

function _star(points: number, inner: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 2 * points; i++) {
    const r = i % 2 === 0 ? 1 : inner;
    const a = -Math.PI / 2 + (Math.PI * i) / points;
    out.push(r * Math.cos(a), r * Math.sin(a));
  }
  return out;
}

function _crescent(): number[] {
  // The unit disc minus a unit disc shifted right by 0.5: outer arc, then the inner arc back.
  const out: number[] = [];
  const n = 14;
  const a0 = Math.acos(0.25);
  const b0 = Math.acos(-0.25);
  for (let i = 0; i <= n; i++) {
    const a = a0 + ((2 * Math.PI - 2 * a0) * i) / n;
    out.push(Math.cos(a), Math.sin(a));
  }
  for (let i = 1; i < n; i++) {
    const b = 2 * Math.PI - b0 - ((2 * Math.PI - 2 * b0) * i) / n;
    out.push(0.5 + Math.cos(b), Math.sin(b));
  }
  return out;
}

function _heart(): number[] {
  const out: number[] = [];
  const n = 28;
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const x = 16 * Math.sin(t) ** 3;
    const y = 13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t);
    out.push(x / 17, -y / 17 + 0.1);
  }
  return out;
}

const _OUTLINES: Record<ShapeName, number[]> = {
  circle: _regular(24),
  square: [-0.8, -0.8, 0.8, -0.8, 0.8, 0.8, -0.8, 0.8],
  triangle: _regular(3, 1, -Math.PI / 2).map((v, i) => (i % 2 === 1 ? v + 0.2 : v)),
  star: _star(5, 0.45),
  hexagon: _regular(6, 0.95, 0),
  diamond: [0, -1, 0.65, 0, 0, 1, -0.65, 0],
  cross: [
    -0.3,
    -0.9,
    0.3,
    -0.9,
    0.3,
    -0.3,
    0.9,
    -0.3,
    0.9,
    0.3,
    0.3,
    0.3,
    0.3,
    0.9,
    -0.3,
    0.9,
    -0.3,
    0.3,
    -0.9,
    0.3,
    -0.9,
    -0.3,
    -0.3,
    -0.3,
  ],
  pentagon: _regular(5, 0.95),
  arrow: [-0.9, -0.25, 0.2, -0.25, 0.2, -0.7, 0.95, 0, 0.2, 0.7, 0.2, 0.25, -0.9, 0.25],
  crescent: _crescent(),
  heart: _heart(),
};

export function shapeOutline(shape: ShapeName): readonly number[] {
  return _OUTLINES[shape];
}
