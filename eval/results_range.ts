/**
 * One byte range of a results file read without the ground truth, as a worker thread does it: plain
 * elements only (`scanPlainResult`), written to its own rows of shared columns with raw ids, each image run
 * capped to the `maxDets` best as soon as it ends. The runs at the range's edges may go on in the
 * neighbouring ranges, so they are left whole for the caller. Anything else, and any doubt about the
 * range's edges, ends the read with `ok: false`: the caller then reads the file the sequential way, which
 * also names the error.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { skipWs } from "./json_scan.ts";
import { PLAIN_BBOX, PLAIN_CATEGORY, PLAIN_IMAGE, PLAIN_SCORE, scanPlainResult } from "./plain_result.ts";
import { capGroup, CapScratch } from "./select.ts";
import { failWork, takeWork } from "./work_queue.ts";

/** Category ids a range reader counts (LVIS 1..1203, COCO 1..90); larger ones send the file the sequential way. */
export const MAX_RANGE_CATEGORY_ID = 1 << 16;

/** Columns that range readers and the merge share: rows `[rowStart, rowEnd)` of a task are its own. */
export interface SharedColumns {
  /** Raw category ids as read; the merge overwrites kept rows with category positions. */
  category: Int32Array;
  score: Float64Array;
  /** x, y, w, h per row. */
  bbox: Float64Array;
  /** Image positions, written by the merge only. */
  image: Int32Array;
}

/** The shared buffers behind `SharedColumns`, as they travel to a worker. */
export interface ColumnBuffers {
  category: SharedArrayBuffer;
  score: SharedArrayBuffer;
  bbox: SharedArrayBuffer;
  image: SharedArrayBuffer;
}

/** Typed views of the buffers. */
export function columnViews(b: ColumnBuffers): SharedColumns {
  return {
    category: new Int32Array(b.category),
    score: new Float64Array(b.score),
    bbox: new Float64Array(b.bbox),
    image: new Int32Array(b.image),
  };
}

/** Shared columns for `rows` rows (untouched rows cost no memory). */
export function newColumnBuffers(rows: number): ColumnBuffers {
  return {
    category: new SharedArrayBuffer(4 * rows),
    score: new SharedArrayBuffer(8 * rows),
    bbox: new SharedArrayBuffer(32 * rows),
    image: new SharedArrayBuffer(4 * rows),
  };
}

/** One range to read. */
export interface RangeTask {
  path: string;
  /** Byte offset of the list's `[` (the first range) or of an element's `{`. */
  start: number;
  /** Where the next range's first element starts, or the file's size for the last range. */
  end: number;
  first: boolean;
  last: boolean;
  maxDets: number;
  buffers: ColumnBuffers;
  rowStart: number;
  rowEnd: number;
}

/** Ranges that threads take one at a time from a shared queue (`newWorkQueue`). */
export interface RangeJob {
  ranges: RangeTask[];
  queue: Int32Array;
}

/** What a range held. */
export interface RangeOutcome {
  ok: boolean;
  /** Elements in the range. */
  elements: number;
  /** Per image run, 4 numbers: raw image id, first row, end row, 1 when capped here (0: left whole). */
  runs: Float64Array;
  /** Elements per raw category id, `[id, count]` pairs. */
  categories: Int32Array;
}

const _FAILED: RangeOutcome = { ok: false, elements: 0, runs: new Float64Array(0), categories: new Int32Array(0) };
const _CHUNK = 1 << 20;
/** An element (and the spacing around it) is parsed only when this many bytes or the range's end are at hand. */
const _LOOKAHEAD = 1 << 16;

/**
 * Read one range. The reads are synchronous: a worker has nothing else to do meanwhile.
 *
 * @returns the outcome; `ok: false` when the range is not a run of plain elements that ends exactly where
 *   the next range starts (or, for the last, at the list's end and the file's)
 * @example
 * ```ts
 * const buffers = newColumnBuffers(1000);
 * const out = readRange({ path: "dt.json", start: 0, end: size, first: true, last: true, maxDets: 300,
 *   buffers, rowStart: 0, rowEnd: 1000 });
 * ```
 */
export function readRange(task: RangeTask): RangeOutcome {
  let fd: number;
  try {
    fd = openSync(task.path, "r");
  } catch {
    return _FAILED;
  }
  try {
    return new _RangeReader(fd, task).read();
  } catch {
    return _FAILED;
  } finally {
    closeSync(fd);
  }
}

/**
 * Take ranges of `job` until none is left (or one fails) and read them; the other threads of the job do
 * the same, so a slower thread simply reads fewer.
 *
 * @param worker this worker's number in the queue, -1 on the caller's thread
 * @returns each range read here, by index
 * @example
 * ```ts
 * const job = { ranges, queue: newWorkQueue(1) };
 * const mine = readRanges(job, -1); // [[0, outcome], [3, outcome], ...]
 * ```
 */
export function readRanges(job: RangeJob, worker: number): [number, RangeOutcome][] {
  const out: [number, RangeOutcome][] = [];
  for (let i; (i = takeWork(job.queue, worker, job.ranges.length)) >= 0;) {
    const outcome = readRange(job.ranges[i]);
    out.push([i, outcome]);
    if (!outcome.ok) failWork(job.queue);
  }
  return out;
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

/** Copy row `from` to `to` (image column excluded: it is written by the merge). */
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
  buf = new Uint8Array(_CHUNK + _LOOKAHEAD);
  view = this.buf.subarray(0, 0);
  len = 0;
  base: number;
  next: number;
  row: number;
  runs: number[] = [];
  runImage = NaN;
  runStart: number;
  counts = new Int32Array(MAX_RANGE_CATEGORY_ID);
  scratch = { keep: new Uint8Array(1024), cap: new CapScratch() };

  constructor(readonly fd: number, readonly task: RangeTask) {
    this.cols = columnViews(task.buffers);
    this.base = this.next = task.start;
    this.row = this.runStart = task.rowStart;
  }

  /** Skip whitespace from `p`, reading on until `_LOOKAHEAD` bytes (or the range's end) lie beyond it. */
  ready(p: number): number {
    for (;;) {
      p = skipWs(this.view, p);
      if (this.len - p >= _LOOKAHEAD || this.next >= this.task.end) return p;
      // Keep what is left, then fill the rest of the buffer.
      this.buf.copyWithin(0, p, this.len);
      (this.len -= p, this.base += p, p = 0);
      const want = Math.min(this.buf.length - this.len, this.task.end - this.next);
      const n = readSync(this.fd, this.buf, this.len, want, this.next);
      if (n <= 0) throw new Error("the file ended early");
      (this.len += n, this.next += n);
      this.view = this.buf.subarray(0, this.len);
    }
  }

  read(): RangeOutcome {
    const task = this.task, v = new Float64Array(7), cols = this.cols;
    let p = this.ready(0);
    let elements = 0;
    if (task.first) {
      if (this.view[p] !== 91) return _FAILED;
      p = this.ready(p + 1);
      if (this.view[p] === 93) return task.last && this.ready(p + 1) === this.len ? this.#done(0) : _FAILED;
    }
    for (;;) {
      if (this.base + p >= task.end) return _FAILED;
      const end = scanPlainResult(this.view, p, v);
      if (end < 0) return _FAILED;
      const imageId = v[PLAIN_IMAGE], categoryId = v[PLAIN_CATEGORY];
      if (!(categoryId >= 0 && categoryId < MAX_RANGE_CATEGORY_ID && Number.isInteger(categoryId))) return _FAILED;
      if (imageId !== this.runImage) {
        if (elements > 0) this.#closeRun(true);
        this.runImage = imageId;
        this.runStart = this.row;
      }
      const r = this.row++;
      if (r >= task.rowEnd) return _FAILED;
      this.counts[categoryId]++;
      cols.category[r] = categoryId;
      cols.score[r] = v[PLAIN_SCORE];
      const b = cols.bbox;
      (b[4 * r] = v[PLAIN_BBOX], b[4 * r + 1] = v[PLAIN_BBOX + 1]);
      (b[4 * r + 2] = v[PLAIN_BBOX + 2], b[4 * r + 3] = v[PLAIN_BBOX + 3]);
      elements++;
      p = this.ready(end);
      const c = this.view[p];
      if (c === 44) {
        p = this.ready(p + 1);
        if (!task.last && this.base + p === task.end) {
          this.#closeRun(false);
          return this.#done(elements);
        }
      } else if (c === 93 && task.last) {
        if (this.ready(p + 1) !== this.len) return _FAILED;
        this.#closeRun(true);
        return this.#done(elements);
      } else return _FAILED;
    }
  }

  /**
   * Record the current run, capped unless it may go on in a neighbouring range: the first run of a range
   * that is not the file's first, or (`ended` false) the run at a range's end.
   */
  #closeRun(ended: boolean): void {
    const leftWhole = !ended || (this.runs.length === 0 && !this.task.first);
    if (!leftWhole) this.row = capRows(this.cols, this.runStart, this.row, this.task.maxDets, this.scratch);
    this.runs.push(this.runImage, this.runStart, this.row, leftWhole ? 0 : 1);
  }

  #done(elements: number): RangeOutcome {
    const pairs: number[] = [];
    for (let id = 0; id < this.counts.length; id++) if (this.counts[id]) pairs.push(id, this.counts[id]);
    return { ok: true, elements, runs: Float64Array.from(this.runs), categories: Int32Array.from(pairs) };
  }
}
