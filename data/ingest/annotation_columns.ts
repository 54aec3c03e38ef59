// The common annotation shape is read byte by byte into typed columns; anything else (unknown key, RLE, a wrong
// type) is re-read with JSON.parse and checked by the zod schema, which words the error.
import { quote } from "../../core/errors.ts";
import { type ByteCursor, NEED_MORE } from "./byte_cursor.ts";
import type { Rle } from "../../eval/rle.ts";
import type { IssueLog } from "./issues.ts";
import { annotationSchema, checkRecord } from "./lvis_schema.ts";
import { checkRle } from "./rle_counts.ts";

const _KEYS = ["id", "image_id", "category_id", "bbox", "area", "segmentation", "iscrowd"].map((k) =>
  new TextEncoder().encode(k)
);
const [K_ID, K_IMAGE, K_CAT, K_BBOX, K_AREA, K_SEG, K_CROWD] = [0, 1, 2, 3, 4, 5, 6];
const _REQUIRED = (1 << K_ID) | (1 << K_IMAGE) | (1 << K_CAT) | (1 << K_BBOX) | (1 << K_AREA);
const _SLOW = -1;

function _key(b: Uint8Array, s: number, end: number): number {
  const len = end - s;
  for (let k = 0; k < _KEYS.length; k++) {
    const key = _KEYS[k];
    if (key.length !== len) continue;
    let i = 0;
    while (i < len && b[s + i] === key[i]) i++;
    if (i === len) return k;
  }
  return _SLOW;
}

function _grow<T extends Float64Array | Float32Array | Uint32Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

export class AnnotationColumns {
  count = 0;
  ids: Float64Array;
  imageIds: Float64Array;
  categoryIds: Float64Array;
  bbox: Float64Array;
  area: Float64Array;
  iscrowd: Uint8Array;
  /** Polygons of annotation a (file order) are `polyStart[a] .. polyStart[a + 1]`. */
  polyStart: Uint32Array;
  numPolys = 0;
  coordStart: Uint32Array;
  numCoords = 0;
  coords: Float32Array;
  /** RLE masks by annotation (file order); rare, so kept aside from the columns. */
  readonly rles = new Map<number, Rle>();
  #polyMark = 0;
  #coordMark = 0;
  readonly #issues: IssueLog;
  readonly #file: string;

  /** Capacities are upper bounds from `expectedBytes`; untouched pages cost no memory. */
  constructor(options: { expectedBytes: number; issues: IssueLog; file: string }) {
    const bytes = Math.max(1024, options.expectedBytes);
    const n = Math.ceil(bytes / 48);
    this.ids = new Float64Array(n);
    this.imageIds = new Float64Array(n);
    this.categoryIds = new Float64Array(n);
    this.bbox = new Float64Array(4 * n);
    this.area = new Float64Array(n);
    this.iscrowd = new Uint8Array(n);
    this.polyStart = new Uint32Array(n + 1);
    this.coordStart = new Uint32Array(Math.ceil(bytes / 12) + 1);
    this.coords = new Float32Array(Math.ceil(bytes / 2));
    this.#issues = options.issues;
    this.#file = options.file;
  }

  /** Mark the start of an element, so a retried element leaves nothing behind. */
  begin(): void {
    this.#polyMark = this.numPolys;
    this.#coordMark = this.numCoords;
  }

  rollback(): void {
    this.numPolys = this.#polyMark;
    this.numCoords = this.#coordMark;
  }

  parse(c: ByteCursor, index: number): void {
    c.ws();
    const start = c.p;
    if (this.#fast(c, index) === _SLOW) {
      this.rollback();
      c.p = start;
      this.#slow(c, index);
    }
  }

  #fast(c: ByteCursor, index: number): number {
    const b = c.b;
    if (b[c.p] !== 0x7b) return _SLOW;
    c.p++;
    let seen = 0;
    let id = 0, imageId = 0, catId = 0, area = 0, crowd = 0;
    let x0 = 0, y0 = 0, w = 0, h = 0;
    let shortPolygon = -1;
    for (let first = true;; first = false) {
      let x = c.peek();
      if (x === 0x7d) {
        c.p++;
        break;
      }
      if (!first) {
        if (x !== 0x2c) return _SLOW;
        c.p++;
        x = c.peek();
      }
      if (x !== 0x22) return _SLOW;
      const ks = c.p + 1;
      let q = ks;
      while (q < c.e && b[q] !== 0x22 && b[q] !== 0x5c) q++;
      if (q >= c.e) {
        if (c.eof) return _SLOW;
        throw NEED_MORE;
      }
      if (b[q] !== 0x22) return _SLOW;
      const key = _key(b, ks, q);
      if (key === _SLOW || (seen & (1 << key)) !== 0) return _SLOW;
      c.p = q + 1;
      if (c.peek() !== 0x3a) return _SLOW;
      c.p++;
      c.ws();
      if (key === K_BBOX) {
        if (b[c.p] !== 0x5b) return _SLOW;
        c.p++;
        for (let k = 0; k < 4; k++) {
          c.ws();
          const v = c.number();
          if (Number.isNaN(v) || c.peek() !== (k === 3 ? 0x5d : 0x2c)) return _SLOW;
          c.p++;
          if (k === 0) x0 = v;
          else if (k === 1) y0 = v;
          else if (k === 2) w = v;
          else h = v;
        }
      } else if (key === K_SEG) {
        if (b[c.p] !== 0x5b) return _SLOW;
        c.p++;
        for (let j = 0;; j++) {
          let y = c.peek();
          if (y === 0x5d) {
            c.p++;
            break;
          }
          if (j > 0) {
            if (y !== 0x2c) return _SLOW;
            c.p++;
            y = c.peek();
          }
          if (y !== 0x5b) return _SLOW;
          const listStart = ++c.p;
          const from = this.numCoords;
          let got = c.numberList(this.coords, from);
          if (got === -2) {
            // Out of room (only when the capacity estimate was beaten): grow and read the polygon again.
            this.coords = _grow(this.coords, this.coords.length * 2);
            c.p = listStart;
            got = c.numberList(this.coords, from);
          }
          if (got < 0) return _SLOW;
          this.numCoords += got;
          const n = this.numCoords - from;
          if (n % 2 !== 0) return _SLOW;
          if (n < 6 && shortPolygon < 0) shortPolygon = j;
          if (this.numPolys + 1 >= this.coordStart.length) this.coordStart = _grow(this.coordStart, this.numPolys + 2);
          this.coordStart[this.numPolys] = from;
          this.coordStart[++this.numPolys] = this.numCoords;
        }
      } else {
        const v = c.number();
        if (Number.isNaN(v)) return _SLOW;
        if (key === K_ID) id = v;
        else if (key === K_IMAGE) imageId = v;
        else if (key === K_CAT) catId = v;
        else if (key === K_AREA) area = v;
        else crowd = v;
        // Ids must be integers and area non-negative; let the schema word anything else.
        if ((key !== K_AREA && (v < 0 || !Number.isInteger(v))) || (key === K_AREA && v < 0)) return _SLOW;
        if (key === K_CROWD && v !== 0 && v !== 1) return _SLOW;
      }
      seen |= 1 << key;
    }
    if ((seen & _REQUIRED) !== _REQUIRED) return _SLOW;
    if (shortPolygon >= 0) {
      this.#issues.warn(
        "polygon with fewer than 3 points",
        () =>
          `Polygon "annotations[${index}].segmentation[${shortPolygon}]" (annotation id ${id}) in "${this.#file}" ` +
          "has fewer than 3 points",
      );
    }
    this.#commit(id, imageId, catId, x0, y0, w, h, area, crowd);
    return 0;
  }

  #commit(
    id: number,
    imageId: number,
    catId: number,
    x: number,
    y: number,
    w: number,
    h: number,
    area: number,
    crowd: number,
  ) {
    const n = this.count;
    if (n + 1 >= this.ids.length) {
      const need = n + 2;
      this.ids = _grow(this.ids, need);
      this.imageIds = _grow(this.imageIds, need);
      this.categoryIds = _grow(this.categoryIds, need);
      this.bbox = _grow(this.bbox, 4 * need);
      this.area = _grow(this.area, need);
      this.iscrowd = _grow(this.iscrowd, need);
      this.polyStart = _grow(this.polyStart, need + 1);
    }
    this.ids[n] = id;
    this.imageIds[n] = imageId;
    this.categoryIds[n] = catId;
    this.bbox[4 * n] = x;
    this.bbox[4 * n + 1] = y;
    this.bbox[4 * n + 2] = w;
    this.bbox[4 * n + 3] = h;
    this.area[n] = area;
    this.iscrowd[n] = crowd;
    this.polyStart[n + 1] = this.numPolys;
    this.count = n + 1;
  }

  #slow(c: ByteCursor, index: number): void {
    const path = `annotations[${index}]`;
    const value = c.value(path);
    const mixed = _mixedSegmentation(value);
    if (mixed) {
      this.#issues.error(
        "mixed polygon/RLE segmentation",
        `Cannot read "${path}.segmentation" (annotation id ${quote(mixed.id)}) in "${this.#file}": ` +
          `a list holding an RLE object; expected a list of polygons or one RLE object`,
      );
      return;
    }
    const r = checkRecord(annotationSchema, value, { file: this.#file, path });
    if (!r.ok) {
      this.#issues.error("malformed annotation", r.message);
      return;
    }
    const a = r.value;
    const where = `"${path}.segmentation" (annotation id ${a.id}) in "${this.#file}"`;
    if (a.segmentation && !Array.isArray(a.segmentation)) {
      const rle = checkRle(a.segmentation);
      if (!rle.ok) {
        this.#issues.error(rle.kind, `Cannot read RLE ${where}: ${rle.detail}`);
        return;
      }
      this.rles.set(this.count, rle.rle);
    }
    if (Array.isArray(a.segmentation)) {
      for (const [j, poly] of a.segmentation.entries()) {
        if (poly.length < 6) {
          this.#issues.warn(
            "polygon with fewer than 3 points",
            () =>
              `Polygon "${path}.segmentation[${j}]" (annotation id ${a.id}) in "${this.#file}" has fewer than 3 points`,
          );
        }
        this.coords = _grow(this.coords, this.numCoords + poly.length);
        this.coords.set(poly, this.numCoords);
        this.coordStart = _grow(this.coordStart, this.numPolys + 2);
        this.coordStart[this.numPolys] = this.numCoords;
        this.numCoords += poly.length;
        this.coordStart[++this.numPolys] = this.numCoords;
      }
    }
    this.#commit(a.id, a.image_id, a.category_id, a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3], a.area, a.iscrowd ?? 0);
  }
}

/** The annotation's id when its `segmentation` list holds an object (an RLE among polygons), else undefined. */
function _mixedSegmentation(value: unknown): { id: unknown } | undefined {
  const a = value as { id?: unknown; segmentation?: unknown } | null;
  const seg = a?.segmentation;
  if (!Array.isArray(seg) || !seg.some((p) => p !== null && typeof p === "object" && !Array.isArray(p))) return;
  return { id: a!.id };
}
