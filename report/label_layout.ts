// Labels try a few spots around their box's corners in order and take the first on the canvas and clear of
// those placed before; a label with no free spot is left out.

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Place a label of size `sizes[i]` by each box, earlier boxes first; null where it does not fit. */
export function placeLabels(
  boxes: readonly Rect[],
  sizes: readonly { w: number; h: number }[],
  canvas: { w: number; h: number },
): ({ x: number; y: number } | null)[] {
  const placed: Rect[] = [];
  return boxes.map((b, i) => {
    const { w, h } = sizes[i];
    const right = b.x + b.w - w;
    const spots = [
      { x: b.x, y: b.y - h }, // above, left-aligned
      { x: b.x, y: b.y }, // inside, top-left
      { x: b.x, y: b.y + b.h }, // below, left-aligned
      { x: b.x, y: b.y + b.h - h }, // inside, bottom-left
      { x: right, y: b.y - h }, // above, right-aligned
      { x: right, y: b.y }, // inside, top-right
      { x: right, y: b.y + b.h }, // below, right-aligned
    ];
    for (const s of spots) {
      // Slide onto the canvas, then test against the labels already placed.
      const r = {
        x: Math.min(Math.max(s.x, 0), canvas.w - w),
        y: Math.min(Math.max(s.y, 0), canvas.h - h),
        w,
        h,
      };
      if (r.x < 0 || r.y < 0) continue;
      if (placed.some((p) => overlaps(p, r))) continue;
      placed.push(r);
      return { x: r.x, y: r.y };
    }
    return null;
  });
}

/** Touching edges do not count. */
export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}
