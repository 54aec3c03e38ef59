// Streams a results file chunk by chunk into typed arrays, so a 6M-result file never becomes millions of objects.
import { type FileHandle, open } from "node:fs/promises";
import { basename } from "node:path";
import { InputError } from "../core/errors.ts";
import { type GroundTruth, NEGATIVE, POSITIVE } from "./ground_truth.ts";
import { BAD, keyOf, numberAt, numberEnd, skipWs } from "./json_scan.ts";
import { PLAIN_CATEGORY, PLAIN_IMAGE, PLAIN_SCORE, scanPlainResult } from "./plain_result.ts";
import { capGroup, CapScratch } from "./select.ts";
import { jsonError } from "./json_path.ts";
import { readInRange } from "./range_merge.ts";
import { sharedFloat64, sharedInt32, sharedUint8 } from "./shared_arrays.ts";

export interface RleJson {
  size: [number, number];
  counts: string;
}

export interface Results {
  file: string;
  count: number;
  image: Int32Array;
  /** Category position; -1 (only with `unknownCategories: "drop"`) when the ground truth lacks the category. */
  category: Int32Array;
  unknownCategories?: number;
  score: Float64Array;
  bbox: Float64Array;
  hasBbox: Uint8Array;
  segmentation: (RleJson | undefined)[] | null;
  /** Set when the reader already applied the per-image cap and the federated filter (see `readResults`). */
  selected?: Preselection;
}

export interface Preselection {
  maxDets: number;
  inFile: number;
  afterLimits: number;
  /** Whether the result the reference lists first carries a box (it decides box or mask areas). */
  firstHasBbox: boolean;
  firstWithoutMask: number;
}

/**
 * A result's JSON path in its file, e.g. `[12].segmentation`. Only for results read whole: a selecting
 * read keeps results that all have boxes, and `requireMasks` names a missing mask by `firstWithoutMask`.
 */
export function resultPath(i: number, field: string): string {
  return `[${i}].${field}`;
}

const _CHUNK = 1 << 20;
const _INCOMPLETE = Symbol("incomplete");
const _KEYS = ["image_id", "category_id", "score", "bbox", "segmentation"].map((k) => new TextEncoder().encode(k));
const _IMAGE = 0, _CATEGORY = 1, _SCORE = 2, _BBOX = 3, _SEGM = 4;

class _Scanner {
  buf = new Uint8Array(0);
  pos = 0;
  base = 0; // file offset of buf[0]
  final = false;
  constructor(readonly file: string) {}

  syntax(what: string): InputError {
    const at = this.pos < this.buf.length
      ? `unexpected ${JSON.stringify(String.fromCharCode(this.buf[this.pos]))}`
      : "unexpected end of file";
    return new InputError(
      `Cannot parse ${JSON.stringify(basename(this.file))} as JSON: ${at} at byte ${this.base + this.pos}, ${what}`,
    );
  }

  peek(): number {
    if (this.pos >= this.buf.length) {
      if (!this.final) throw _INCOMPLETE;
      return -1;
    }
    return this.buf[this.pos];
  }

  ws(): number {
    const b = this.buf;
    let p = this.pos;
    while (p < b.length && (b[p] === 32 || b[p] === 10 || b[p] === 13 || b[p] === 9)) p++;
    this.pos = p;
    return this.peek();
  }

  expect(c: number, what: string): void {
    if (this.ws() !== c) throw this.syntax(`expected ${JSON.stringify(String.fromCharCode(c))} ${what}`);
    this.pos++;
  }

  skipString(): void {
    const b = this.buf;
    let p = this.pos + 1;
    for (;;) {
      if (p >= b.length) {
        this.pos = p;
        this.peek();
        throw this.syntax("inside a string");
      }
      const c = b[p++];
      if (c === 34) break;
      if (c === 92) p++;
    }
    this.pos = p;
  }

  key(): number {
    if (this.ws() !== 34) throw this.syntax("expected a key");
    const start = this.pos + 1;
    this.skipString();
    return keyOf(this.buf, start, this.pos - 1 - start, _KEYS);
  }

  skipValue(): void {
    let depth = 0;
    do {
      const c = this.ws();
      if (c === 34) this.skipString();
      else if (c === 91 || c === 123) (depth++, this.pos++);
      else if (c === 93 || c === 125) (depth--, this.pos++);
      else if (c === 44 || c === 58) this.pos++;
      else if (c === -1) throw this.syntax("inside a value");
      else {
        const b = this.buf;
        let p = this.pos;
        while (p < b.length && b[p] !== 44 && b[p] !== 93 && b[p] !== 125 && b[p] > 32) p++;
        if (p === this.pos) throw this.syntax("expected a value");
        this.pos = p;
        this.peek();
      }
    } while (depth > 0);
  }

  /** NaN when the token is not a number (the caller reports it). */
  number(): number {
    this.ws();
    const b = this.buf, start = this.pos;
    const v = numberAt(b, start);
    if (numberEnd() === BAD) return this.badToken(start);
    if (numberEnd() >= b.length && !this.final) throw _INCOMPLETE;
    if (v !== v) return this.badToken(start);
    this.pos = numberEnd();
    return v;
  }

  badToken(start: number): number {
    const b = this.buf;
    let p = start;
    while (p < b.length && p - start < 30 && b[p] !== 44 && b[p] !== 93 && b[p] !== 125 && b[p] > 32) p++;
    if (p >= b.length && !this.final) throw _INCOMPLETE;
    this.lastBad = new TextDecoder().decode(b.subarray(start, p));
    return NaN;
  }
  lastBad = "";
}

class _Columns {
  cap: number;
  count = 0;
  image: Int32Array;
  category: Int32Array;
  score: Float64Array;
  bbox: Float64Array;
  hasBbox: Uint8Array;
  segmentation: (RleJson | undefined)[] | null = null;
  dropUnknown = false;
  unknownCategories = 0;
  runs: _ImageRuns | null = null;
  lastImageId = NaN;
  lastImage = -1;
  /** Category id -> position for small integer ids (LVIS: 1..1203), -1 elsewhere. */
  categoryLookup: Int32Array;
  constructor(cap: number, gt: GroundTruth) {
    let max = -1;
    for (const id of gt.categoryIds) if (Number.isInteger(id) && id >= 0 && id < 1 << 20) max = Math.max(max, id);
    this.categoryLookup = new Int32Array(max + 1).fill(-1);
    gt.categoryIds.forEach((id, k) => {
      if (Number.isInteger(id) && id >= 0 && id <= max) this.categoryLookup[id] = k;
    });
    this.cap = cap;
    // Shared memory, so evaluation can hand the columns to worker threads.
    this.image = sharedInt32(cap);
    this.category = sharedInt32(cap);
    this.score = sharedFloat64(cap);
    this.bbox = sharedFloat64(4 * cap);
    this.hasBbox = sharedUint8(cap);
  }
  grow(): void {
    const cap = this.cap * 2;
    const g = <T extends Int32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T, n: number): T => {
      const out = make(n);
      out.set(a);
      return out;
    };
    this.image = g(this.image, sharedInt32, cap);
    this.category = g(this.category, sharedInt32, cap);
    this.score = g(this.score, sharedFloat64, cap);
    this.bbox = g(this.bbox, sharedFloat64, 4 * cap);
    this.hasBbox = g(this.hasBbox, sharedUint8, cap);
    this.cap = cap;
  }
}

const _NOT_RUNS = Symbol("not image runs");

/**
 * The per-image cap and the federated filter applied while reading, one image run at a time: only the
 * results that evaluation can use stay in memory, compacted to the front of the columns.
 */
class _ImageRuns {
  seen: Uint8Array;
  start = 0;
  runImage = -1;
  inFile = 0;
  afterLimits = 0;
  firstHasBbox = true;
  firstWithoutMask = -1;
  keep = new Uint8Array(256);
  scratch = new CapScratch();
  constructor(readonly gt: GroundTruth, readonly maxDets: number) {
    this.seen = new Uint8Array(gt.imageIds.length);
  }

  added(cols: _Columns, index: number): void {
    const i = cols.count - 1;
    // Boxes decide the areas; a result without one goes through the general path and its checks.
    if (!cols.hasBbox[i]) throw _NOT_RUNS;
    if (this.firstWithoutMask < 0 && !cols.segmentation?.[i]) this.firstWithoutMask = index;
    const img = cols.image[i];
    if (img === this.runImage) return;
    if (this.seen[img]) throw _NOT_RUNS;
    this.seen[img] = 1;
    if (this.runImage >= 0) {
      this.flush(cols, i);
      _move(cols, i, this.start);
      cols.count = this.start + 1;
    }
    this.runImage = img;
  }

  flush(cols: _Columns, end: number): void {
    const s = this.start, m = end - s;
    this.inFile += m;
    if (this.keep.length < end) this.keep = new Uint8Array(2 * end);
    const keep = this.keep;
    keep.fill(1, s, end);
    const best = capGroup(cols.score, null, s, end, this.maxDets, keep, this.scratch);
    if (this.inFile === m) this.firstHasBbox = cols.hasBbox[m > this.maxDets ? best : s] === 1;
    const flags = this.gt.imageCategoryFlags, K = this.gt.categoryIds.length, row = this.runImage * K;
    let to = s;
    for (let j = s; j < end; j++) {
      if (!keep[j]) continue;
      this.afterLimits++;
      const cat = cols.category[j];
      if (cat >= 0 && flags[row + cat] & (POSITIVE | NEGATIVE)) _move(cols, j, to++);
    }
    this.start = to;
  }
}

function _move(cols: _Columns, from: number, to: number): void {
  if (from === to) return;
  cols.image[to] = cols.image[from];
  cols.category[to] = cols.category[from];
  cols.score[to] = cols.score[from];
  const bbox = cols.bbox;
  (bbox[4 * to] = bbox[4 * from], bbox[4 * to + 1] = bbox[4 * from + 1]);
  (bbox[4 * to + 2] = bbox[4 * from + 2], bbox[4 * to + 3] = bbox[4 * from + 3]);
  cols.hasBbox[to] = cols.hasBbox[from];
  if (cols.segmentation) {
    cols.segmentation[to] = cols.segmentation[from];
    cols.segmentation[from] = undefined;
  }
}

const _FIELDS = ["image_id", "category_id", "score", "bbox[0]", "bbox[1]", "bbox[2]", "bbox[3]"];

function _num(s: _Scanner, index: number, field: number): number {
  const v = s.number();
  if (!Number.isFinite(v)) {
    const got = Number.isNaN(v) && s.lastBad ? s.lastBad : String(v);
    throw jsonError(s.file, `[${index}].${_FIELDS[field]}`, `expected a finite number, got ${got}`);
  }
  return v;
}

/** The common result (see `scanPlainResult`), or false with nothing changed, for `_parseElement` to read and report. */
function _fastElement(s: _Scanner, gt: GroundTruth, cols: _Columns): boolean {
  const i = cols.count, v = _PLAIN;
  if (i === cols.cap) return false;
  const end = scanPlainResult(s.buf, skipWs(s.buf, s.pos), v, cols.bbox, 4 * i);
  if (end < 0) return false;
  const imageId = v[PLAIN_IMAGE], categoryId = v[PLAIN_CATEGORY];
  const img = imageId === cols.lastImageId ? cols.lastImage : gt.imageIndex.get(imageId);
  const dense = cols.categoryLookup;
  const cat = categoryId >= 0 && categoryId < dense.length && Number.isInteger(categoryId)
    ? dense[categoryId]
    : gt.categoryIndex.get(categoryId) ?? -1;
  if (img === undefined || (cat < 0 && !cols.dropUnknown)) return false;
  if (cat < 0) cols.unknownCategories++;
  cols.image[i] = cols.lastImage = img;
  cols.lastImageId = imageId;
  cols.category[i] = cat;
  cols.score[i] = v[PLAIN_SCORE];
  cols.hasBbox[i] = 1;
  if (cols.segmentation) cols.segmentation[i] = undefined;
  s.pos = end;
  return true;
}
const _PLAIN = new Float64Array(3);

function _parseElement(s: _Scanner, gt: GroundTruth, cols: _Columns, index: number): void {
  const file = s.file;
  if (s.ws() !== 123) throw s.syntax(`expected "{" at the start of result [${index}]`);
  s.pos++;
  const i = cols.count;
  if (i === cols.cap) cols.grow();
  let seen = 0;
  let segm: RleJson | undefined;
  if (s.ws() === 125) s.pos++;
  else {
    for (;;) {
      const k = s.key();
      s.expect(58, "after a key");
      if (k >= 0) seen |= 1 << k;
      if (k === _IMAGE) {
        const id = _num(s, index, 0);
        // Results come grouped by image: remember the last lookup.
        const img = id === cols.lastImageId ? cols.lastImage : gt.imageIndex.get(id);
        if (img === undefined) {
          throw jsonError(file, `[${index}].image_id`, `image id ${id} is not in ${JSON.stringify(basename(gt.file))}`);
        }
        cols.image[i] = cols.lastImage = img;
        cols.lastImageId = id;
      } else if (k === _CATEGORY) {
        const id = _num(s, index, 1);
        const dense = cols.categoryLookup;
        const cat = id >= 0 && id < dense.length && Number.isInteger(id) ? dense[id] : gt.categoryIndex.get(id) ?? -1;
        if (cat < 0 && !cols.dropUnknown) {
          throw jsonError(
            file,
            `[${index}].category_id`,
            `category id ${id} is not in ${JSON.stringify(basename(gt.file))} (results of another dataset?)`,
          );
        }
        if (cat < 0) cols.unknownCategories++;
        cols.category[i] = cat;
      } else if (k === _SCORE) cols.score[i] = _num(s, index, 2);
      else if (k === _BBOX) {
        if (s.ws() !== 91) throw jsonError(file, `[${index}].bbox`, "expected 4 numbers");
        s.pos++;
        for (let j = 0; j < 4; j++) {
          if (j > 0 && s.ws() !== 44) throw jsonError(file, `[${index}].bbox`, `expected 4 numbers, got ${j}`);
          if (j > 0) s.pos++;
          cols.bbox[4 * i + j] = _num(s, index, 3 + j);
        }
        if (s.ws() !== 93) throw jsonError(file, `[${index}].bbox`, "expected 4 numbers, got more");
        s.pos++;
        if (cols.bbox[4 * i + 2] < 0 || cols.bbox[4 * i + 3] < 0) {
          throw jsonError(file, `[${index}].bbox`, "expected a non-negative width and height");
        }
      } else if (k === _SEGM) {
        s.ws();
        const start = s.pos;
        s.skipValue();
        segm = _rle(file, index, JSON.parse(new TextDecoder().decode(s.buf.subarray(start, s.pos))));
      } else s.skipValue();
      const c = s.ws();
      if (c !== 44 && c !== 125) throw s.syntax(`expected "," or "}" in result [${index}]`);
      s.pos++;
      if (c === 125) break;
    }
  }
  for (let bit = 0; bit < 3; bit++) {
    if (!(seen & (1 << bit))) throw jsonError(file, `[${index}].${_FIELDS[bit]}`, "missing");
  }
  if (!(seen & (1 << _BBOX | 1 << _SEGM))) throw jsonError(file, `[${index}]`, `expected "bbox" or "segmentation"`);
  cols.hasBbox[i] = seen & (1 << _BBOX) ? 1 : 0;
  if (segm) {
    cols.segmentation ??= [];
    cols.segmentation[i] = segm;
  }
  cols.count++;
  if (cols.runs) cols.runs.added(cols, index);
}

function _rle(file: string, index: number, v: unknown): RleJson {
  const o = v as Record<string, unknown> | null;
  const size = o?.size as unknown[] | undefined;
  if (
    !o || !Array.isArray(size) || size.length !== 2 || !size.every((x) => Number.isInteger(x) && (x as number) >= 0) ||
    typeof o.counts !== "string"
  ) {
    throw jsonError(file, `[${index}].segmentation`, 'expected a compressed RLE {"size": [h, w], "counts": "..."}');
  }
  return { size: [size[0] as number, size[1] as number], counts: o.counts };
}

function _scan(s: _Scanner, gt: GroundTruth, cols: _Columns, st: { phase: number; index: number; keep: number }): void {
  // phase 0: before "[", 1: a result, 2: "," or "]", 3: after "]", 4: done
  if (st.phase === 0) {
    if (s.ws() !== 91) throw s.syntax("expected a list of results");
    s.pos++;
    st.keep = s.pos;
    st.phase = 1;
    if (s.ws() === 93) (s.pos++, st.keep = s.pos, st.phase = 3);
  }
  while (st.phase === 1 || st.phase === 2) {
    if (st.phase === 1) {
      if (_fastElement(s, gt, cols)) {
        cols.count++;
        if (cols.runs) cols.runs.added(cols, st.index);
      } else _parseElement(s, gt, cols, st.index);
      st.index++;
      st.keep = s.pos;
      st.phase = 2;
    }
    const c = s.ws();
    if (c === 44) (s.pos++, st.phase = 1);
    else if (c === 93) (s.pos++, st.phase = 3);
    else throw s.syntax(`expected "," or "]" after result [${st.index - 1}]`);
    st.keep = s.pos;
  }
  if (s.ws() !== -1) throw s.syntax("after the list");
  st.phase = 4;
}

export interface ReadResultsOptions {
  /** Read size (default 1 MiB: reused buffers stay in cache; fresh ones cost page faults). */
  chunkBytes?: number;
  /**
   * Cap and filter while reading, keeping only results evaluation can use; taken where each image's results are
   * one run and every result has a box, as detectors write them, else every result is kept.
   */
  select?: { maxDets: number };
  /**
   * Results on a category id that the ground truth lacks: "error" (default) refuses the file, naming the
   * first; "drop" ignores them, as lvis-api does (they still count against the per-image cap).
   */
  unknownCategories?: "error" | "drop";
  /** With `select`, try the range reader first (plain results only, about twice as fast); same results. */
  ranges?: boolean;
}

/**
 * Read a results file, resolving image and category ids against the ground truth.
 *
 * @param path the JSON list of {image_id, category_id, bbox | segmentation, score}
 * @param gt the ground truth the results refer to
 * @param options read size, selection while reading
 * @returns the detections in typed arrays
 * @throws InputError naming the JSON path for malformed input, unknown images or categories, or an empty list
 * @example
 * ```ts
 * const dt = await readResults("results.json", gt);
 * ```
 */
export async function readResults(path: string, gt: GroundTruth, options: ReadResultsOptions = {}): Promise<Results> {
  if (options.select && options.ranges !== false) {
    const inRange = await readInRange(path, gt, options);
    if (inRange) return inRange;
  }
  let f: FileHandle;
  try {
    f = await open(path);
  } catch (e) {
    throw new InputError(`Cannot read results ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  let cols: _Columns;
  try {
    const size = (await f.stat()).size;
    cols = new _Columns(Math.max(16, Math.ceil(size / 48)), gt);
    cols.dropUnknown = options.unknownCategories === "drop";
    if (options.select && options.select.maxDets >= 0) {
      cols.runs = new _ImageRuns(gt, options.select.maxDets);
    }
    await _scanFile(f, path, gt, cols, options.chunkBytes ?? _CHUNK);
  } catch (e) {
    if (e !== _NOT_RUNS) throw e;
    return readResults(path, gt, { ...options, select: undefined, ranges: false });
  } finally {
    await f.close();
  }
  const runs = cols.runs;
  if (runs && cols.count > 0) {
    runs.flush(cols, cols.count);
    cols.count = runs.start;
  }
  if ((runs ? runs.inFile : cols.count) === 0) {
    throw new InputError(`Cannot evaluate ${JSON.stringify(basename(path))}: the results list is empty`);
  }
  const c = cols.count;
  return {
    file: path,
    count: c,
    image: cols.image.subarray(0, c),
    category: cols.category.subarray(0, c),
    score: cols.score.subarray(0, c),
    bbox: cols.bbox.subarray(0, 4 * c),
    hasBbox: cols.hasBbox.subarray(0, c),
    segmentation: cols.segmentation,
    unknownCategories: cols.unknownCategories,
    selected: runs
      ? {
        maxDets: runs.maxDets,
        inFile: runs.inFile,
        afterLimits: runs.afterLimits,
        firstHasBbox: runs.firstHasBbox,
        firstWithoutMask: runs.firstWithoutMask,
      }
      : undefined,
  };
}

async function _scanFile(f: FileHandle, path: string, gt: GroundTruth, cols: _Columns, chunkBytes: number) {
  const s = new _Scanner(path);
  const st = { phase: 0, index: 0, keep: 0 };
  // Two read buffers, so the next read runs while this chunk is scanned, and one scan buffer reused for
  // every chunk: fresh memory is expensive, a copy is not.
  const chunks = [new Uint8Array(chunkBytes), new Uint8Array(chunkBytes)];
  let work = new Uint8Array(2 * chunkBytes);
  let which = 0;
  let pending: Promise<{ bytesRead: number }> | undefined = f.read(chunks[0], 0, chunkBytes, null);
  try {
    while (st.phase < 4) {
      const n = (await pending!).bytesRead;
      const got = chunks[which];
      if (n === 0) (s.final = true, pending = undefined);
      else pending = f.read(chunks[which ^= 1], 0, chunkBytes, null);
      const rest = s.buf.length - st.keep;
      if (work.length < rest + n) {
        const grown = new Uint8Array(2 * (rest + n));
        grown.set(s.buf.subarray(st.keep));
        work = grown;
      } else work.copyWithin(0, st.keep, s.buf.length);
      work.set(got.subarray(0, n), rest);
      s.base += st.keep;
      s.buf = work.subarray(0, rest + n);
      s.pos = 0;
      st.keep = 0;
      try {
        _scan(s, gt, cols, st);
      } catch (e) {
        if (e !== _INCOMPLETE) throw e;
        if (s.final) throw s.syntax("");
      }
    }
  } finally {
    // Let an outstanding read settle before closing, so no operation outlives the file.
    await pending?.catch(() => null);
  }
}

/** Which of `bbox` and `segmentation` the first result carries, reading only that far (both false when empty). */
export async function peekResultFields(path: string): Promise<{ bbox: boolean; segmentation: boolean }> {
  let f: FileHandle;
  try {
    f = await open(path);
  } catch (e) {
    throw new InputError(`Cannot read results ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  try {
    const size = (await f.stat()).size;
    for (let bytes = 1 << 16;; bytes *= 4) {
      const buf = new Uint8Array(Math.min(bytes, size));
      const { bytesRead } = await f.read(buf, 0, buf.length, 0);
      const s = new _Scanner(path);
      s.buf = buf.subarray(0, bytesRead);
      s.final = bytesRead >= size;
      let seen = 0;
      try {
        if (s.ws() !== 91) return { bbox: false, segmentation: false };
        s.pos++;
        if (s.ws() !== 123) return { bbox: false, segmentation: false };
        s.pos++;
        while (s.ws() !== 125) {
          const k = s.key();
          s.expect(58, "after a key");
          if (k >= 0) seen |= 1 << k;
          s.skipValue();
          if (s.ws() === 44) s.pos++;
        }
        return { bbox: (seen & (1 << _BBOX)) !== 0, segmentation: (seen & (1 << _SEGM)) !== 0 };
      } catch (e) {
        if (e !== _INCOMPLETE || s.final) return { bbox: false, segmentation: false };
      }
    }
  } finally {
    await f.close();
  }
}
