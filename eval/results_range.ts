/**
 * One byte range of a results file: plain elements only, each image run capped to `maxDets` when it ends and,
 * with a `RangeFilter`, filtered. Runs at the edges may go on next door, so they stay whole with raw ids for the
 * merge. Anything else, or any doubt about the edges, ends with `ok: false`: the file is then read the general
 * way, which names the error.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { NEGATIVE, POSITIVE } from "./ground_truth.ts";
import { skipWs } from "./json_scan.ts";
import { PLAIN_CATEGORY, PLAIN_IMAGE, PLAIN_SCORE, scanPlainResult } from "./plain_result.ts";
import { capGroup, CapScratch } from "./select.ts";
import { failWork, takeWork } from "./work_queue.ts";

/** Category ids a range reader counts (LVIS 1..1203, COCO 1..90); larger ones send the file the general way. */
export const MAX_RANGE_CATEGORY_ID = 1 << 16;

/** Columns that range readers and the merge share: rows `[rowStart, rowEnd)` of a task are its own. */
export interface SharedColumns {
  /** Category ids as read, or positions in filtered runs; the merge leaves positions in every kept row. */
  category: Int32Array;
  score: Float64Array;
  bbox: Float64Array;
  image: Int32Array;
}

export interface ColumnBuffers {
  category: SharedArrayBuffer;
  score: SharedArrayBuffer;
  bbox: SharedArrayBuffer;
  image: SharedArrayBuffer;
}

export function columnViews(b: ColumnBuffers): SharedColumns {
  return {
    category: new Int32Array(b.category),
    score: new Float64Array(b.score),
    bbox: new Float64Array(b.bbox),
    image: new Int32Array(b.image),
  };
}

/** Untouched rows cost no memory. */
export function newColumnBuffers(rows: number): ColumnBuffers {
  return {
    category: new SharedArrayBuffer(4 * rows),
    score: new SharedArrayBuffer(8 * rows),
    bbox: new SharedArrayBuffer(32 * rows),
    image: new SharedArrayBuffer(4 * rows),
  };
}

export interface RangeFilter {
  imageIndex: Map<number, number>;
  /** Category id -> position, -1 where the ground truth lacks the id (`MAX_RANGE_CATEGORY_ID` entries). */
  categoryLookup: Int32Array;
  /** `GroundTruth.imageCategoryFlags` (shared memory, so workers do not copy it) and its row length. */
  flags: Uint8Array;
  categories: number;
}

export interface RangeTask {
  path: string;
  start: number;
  end: number;
  first: boolean;
  last: boolean;
  maxDets: number;
  buffers: ColumnBuffers;
  rowStart: number;
  rowEnd: number;
  chunkBytes?: number;
}

export interface RangeJob {
  ranges: RangeTask[];
  queue: Int32Array;
  filter?: RangeFilter;
}

/** A run that the reader capped and filtered: its rows hold positions and are final. */
export const RUN_FILTERED = 2;
export const RUN_CAPPED = 1;
/** A run left whole (it may go on in a neighbouring range); ids raw. */
export const RUN_WHOLE = 0;

export interface RangeOutcome {
  ok: boolean;
  elements: number;
  /**
   * Per image run, 5 numbers: raw image id, first row, end row, `RUN_WHOLE | RUN_CAPPED | RUN_FILTERED`, and
   * the rows it kept after the cap (before any filter).
   */
  runs: Float64Array;
}

export interface RangesRead {
  outcomes: [number, RangeOutcome][];
  categoryCounts: Int32Array;
}

/** Buffers a thread reuses from range to range (fresh memory is the expensive part here). */
export class RangeScratch {
  buf: Uint8Array;
  keep = new Uint8Array(1024);
  cap = new CapScratch();
  categoryCounts = new Int32Array(MAX_RANGE_CATEGORY_ID);
  constructor(readonly chunkBytes = 1 << 20) {
    this.buf = new Uint8Array(chunkBytes + Math.min(_LOOKAHEAD, chunkBytes));
  }
}

const _FAILED: RangeOutcome = { ok: false, elements: 0, runs: new Float64Array(0) };
/** An element (and the spacing around it) is parsed only when this many bytes or the range's end are at hand. */
const _LOOKAHEAD = 1 << 16;

/**
 * Read one range, synchronously: a worker has nothing else to do meanwhile. `ok: false` unless it is a run of
 * plain elements ending exactly where the next range starts (the last: at the list's end and the file's).
 */
export function readRange(task: RangeTask, filter: RangeFilter | null, scratch: RangeScratch): RangeOutcome {
  let fd: number;
  try {
    fd = openSync(task.path, "r");
  } catch {
    return _FAILED;
  }
  try {
    return new _RangeReader(fd, task, filter, scratch).read();
  } catch {
    return _FAILED;
  } finally {
    closeSync(fd);
  }
}

/** Take and read ranges of `job` until none is left (or one fails); a slower thread simply reads fewer. */
export function readRanges(job: RangeJob, worker: number): RangesRead {
  const outcomes: [number, RangeOutcome][] = [];
  const scratch = new RangeScratch(job.ranges[0]?.chunkBytes);
  for (let i; (i = takeWork(job.queue, worker, job.ranges.length)) >= 0;) {
    const outcome = readRange(job.ranges[i], job.filter ?? null, scratch);
    outcomes.push([i, outcome]);
    if (!outcome.ok) failWork(job.queue);
  }
  return { outcomes, categoryCounts: scratch.categoryCounts };
}

/** Keep the `maxDets` best rows of `[s, e)` (score descending, ties in file order) at `s`; returns the new end. */
export function capRows(
  cols: SharedColumns,
  s: number,
  e: number,
  maxDets: number,
  scratch: { keep: Uint8Array; cap: CapScratch },
): number {
  const m = e - s;
  if (m <= maxDets) return e;
  if (scratch.keep.length < m) scratch.keep = new Uint8Array(2 * m);
  const keep = scratch.keep;
  keep.fill(1, 0, m);
  capGroup(cols.score.subarray(s, e), null, 0, m, maxDets, keep, scratch.cap);
  let to = s;
  for (let j = s; j < e; j++) if (keep[j - s]) moveRow(cols, j, to++);
  return to;
}

/** Keep the rows of image `img` that the federated filter keeps, compacted at `to` (<= s); returns their end. */
export function filterRows(cols: SharedColumns, s: number, e: number, img: number, to: number, f: RangeFilter): number {
  const row = img * f.categories, lookup = f.categoryLookup, flags = f.flags;
  for (let j = s; j < e; j++) {
    const cat = lookup[cols.category[j]];
    if (cat < 0 || !(flags[row + cat] & (POSITIVE | NEGATIVE))) continue;
    moveRow(cols, j, to);
    cols.category[to] = cat;
    cols.image[to++] = img;
  }
  return to;
}

/** Copy row `from` to `to` (the image column excluded: its value is the run's). */
export function moveRow(cols: SharedColumns, from: number, to: number): void {
  if (from === to) return;
  cols.category[to] = cols.category[from];
  cols.score[to] = cols.score[from];
  const b = cols.bbox;
  (b[4 * to] = b[4 * from], b[4 * to + 1] = b[4 * from + 1], b[4 * to + 2] = b[4 * from + 2]);
  b[4 * to + 3] = b[4 * from + 3];
}

class _RangeReader {
  cols: SharedColumns;
  /** Bytes `[0, len)` of `buf` hold the file from offset `base`; `next` is the next offset to read. */
  view: Uint8Array;
  len = 0;
  base: number;
  next: number;
  lookahead: number;
  row: number;
  runs: number[] = [];
  runImage = NaN;
  runStart: number;

  constructor(
    readonly fd: number,
    readonly task: RangeTask,
    readonly filter: RangeFilter | null,
    readonly scratch: RangeScratch,
  ) {
    this.cols = columnViews(task.buffers);
    this.view = scratch.buf.subarray(0, 0);
    this.lookahead = scratch.buf.length - scratch.chunkBytes;
    this.base = this.next = task.start;
    this.row = this.runStart = task.rowStart;
  }

  ready(p: number): number {
    for (;;) {
      p = skipWs(this.view, p);
      if (this.len - p >= this.lookahead || this.next >= this.task.end) return p;
      const buf = this.scratch.buf;
      buf.copyWithin(0, p, this.len);
      (this.len -= p, this.base += p, p = 0);
      const want = Math.min(buf.length - this.len, this.task.end - this.next);
      const n = readSync(this.fd, buf, this.len, want, this.next);
      if (n <= 0) throw new Error("the file ended early");
      (this.len += n, this.next += n);
      this.view = buf.subarray(0, this.len);
    }
  }

  read(): RangeOutcome {
    const task = this.task, v = new Float64Array(3), counts = this.scratch.categoryCounts;
    const { category, score, bbox } = this.cols;
    let p = this.ready(0);
    let elements = 0;
    if (task.first) {
      if (this.view[p] !== 91) return _FAILED;
      p = this.ready(p + 1);
      if (this.view[p] === 93) return task.last && this.ready(p + 1) === this.len ? this.#done(0) : _FAILED;
    }
    // Positions past `limit` are near the buffer's end: refill (or check for the range's end) there. It starts
    // at -1 so the first element takes those paths too, and the optimized loop finds them known.
    let view = this.view, limit = -1;
    for (;;) {
      if (this.base + p >= task.end) return _FAILED;
      const r = this.row;
      if (r >= task.rowEnd) return _FAILED;
      const end = scanPlainResult(view, p, v, bbox, 4 * r);
      if (end < 0) return _FAILED;
      const imageId = v[PLAIN_IMAGE], categoryId = v[PLAIN_CATEGORY];
      if (!(categoryId >= 0 && categoryId < MAX_RANGE_CATEGORY_ID && Number.isInteger(categoryId))) return _FAILED;
      if (imageId !== this.runImage) {
        // The run's rows end before this one, which the next run then starts with.
        if (elements > 0 && !this.#closeRun(true)) return _FAILED;
        if (this.row !== r) moveRow(this.cols, r, this.row);
        this.runImage = imageId;
        this.runStart = this.row;
      }
      const at = this.row++;
      counts[categoryId]++;
      category[at] = categoryId;
      score[at] = v[PLAIN_SCORE];
      elements++;
      p = end;
      while (view[p] <= 32) p++;
      if (p > limit) (p = this.ready(p), view = this.view, limit = this.#limit());
      const c = view[p];
      if (c === 44) {
        p++;
        while (view[p] <= 32) p++;
        if (p > limit) (p = this.ready(p), view = this.view, limit = this.#limit());
        if (!task.last && this.base + p === task.end) return this.#closeRun(false) ? this.#done(elements) : _FAILED;
      } else if (c === 93 && task.last) {
        if (this.ready(p + 1) !== this.len) return _FAILED;
        return this.#closeRun(true) ? this.#done(elements) : _FAILED;
      } else return _FAILED;
    }
  }

  #limit(): number {
    return this.next >= this.task.end ? this.len : this.len - this.lookahead;
  }

  /**
   * Record the current run: capped (and filtered, with a filter) unless it may go on in a neighbouring
   * range, as the first run of a range that is not the file's first or (`ended` false) the run at a
   * range's end. False for an image the ground truth lacks.
   */
  #closeRun(ended: boolean): boolean {
    const s = this.runStart;
    if (!ended || (this.runs.length === 0 && !this.task.first)) {
      this.runs.push(this.runImage, s, this.row, RUN_WHOLE, this.row - s);
      return true;
    }
    const capped = capRows(this.cols, s, this.row, this.task.maxDets, this.scratch);
    const f = this.filter;
    if (!f) {
      this.runs.push(this.runImage, s, capped, RUN_CAPPED, capped - s);
      this.row = capped;
      return true;
    }
    const img = f.imageIndex.get(this.runImage);
    if (img === undefined) return false;
    this.row = filterRows(this.cols, s, capped, img, s, f);
    this.runs.push(this.runImage, s, this.row, RUN_FILTERED, capped - s);
    return true;
  }

  #done(elements: number): RangeOutcome {
    return { ok: true, elements, runs: Float64Array.from(this.runs) };
  }
}
