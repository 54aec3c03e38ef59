/**
 * The result element detectors write, `{"image_id", "category_id", "bbox", "score"}` in any key order, parsed in one
 * tight pass; both readers try it first and leave anything else to the general path, which names errors.
 */
import { numberAt, numberEnd, skipWs } from "./json_scan.ts";

export const PLAIN_IMAGE = 0, PLAIN_CATEGORY = 1, PLAIN_SCORE = 2;
/** The shortest plain element with its separating comma, in bytes: a range of B bytes holds at most B / 57. */
export const MIN_PLAIN_BYTES = 57;

// Each key with its closing quote; the first letters differ, so one byte picks the candidate.
const _KEYS = ["image_id", "category_id", "score", "bbox"].map((k) => new TextEncoder().encode(`${k}"`));
const _FIRST = new Int8Array(256).fill(-1);
_KEYS.forEach((k, i) => (_FIRST[k[0]] = i));
const _P10 = Array.from({ length: 16 }, (_, i) => Number(`1e${i}`));
const _BBOX = 3;
let _end = 0;

/** Plain decimals of at most 15 digits are formed exactly as `numberAt`'s fast path does; others go to it. */
function _number(b: Uint8Array, p: number): number {
  const start = p;
  let v = 0, c = b[p];
  while (c >= 48 && c <= 57) (v = v * 10 + (c - 48), c = b[++p]);
  let digits = p - start, fraction = 0;
  if (c === 46) {
    const f = ++p;
    c = b[p];
    while (c >= 48 && c <= 57) (v = v * 10 + (c - 48), c = b[++p]);
    fraction = p - f;
    digits = fraction === 0 ? 99 : digits + fraction;
  }
  if (digits === 0 || digits > 15 || c === 101 || c === 69 || p >= b.length) {
    const w = numberAt(b, start);
    _end = numberEnd();
    return w;
  }
  _end = p;
  return fraction ? v / _P10[fraction] : v;
}

/**
 * Parse the plain result at `b[p]`: ids and score into `out`, the box into `box[at .. at + 3]`; returns the
 * position after its `}`, or -1 when it is not a plain result wholly inside `b`.
 */
export function scanPlainResult(b: Uint8Array, p: number, out: Float64Array, box: Float64Array, at: number): number {
  const n = b.length;
  if (b[p] !== 123) return -1;
  p++;
  if (b[p] <= 32) p = skipWs(b, p);
  let seen = 0;
  for (;;) {
    if (b[p] !== 34) return -1;
    const k = p + 1 < n ? _FIRST[b[p + 1]] : -1;
    if (k < 0) return -1;
    const key = _KEYS[k];
    if (p + 1 + key.length >= n) return -1;
    for (let j = 1; j < key.length; j++) if (b[p + 1 + j] !== key[j]) return -1;
    p += 1 + key.length;
    if (b[p] <= 32) p = skipWs(b, p);
    if (b[p] !== 58) return -1;
    p++;
    if (b[p] <= 32) p = skipWs(b, p);
    if (k === _BBOX) {
      if (b[p] !== 91) return -1;
      for (let j = 0; j < 4; j++) {
        p++;
        if (b[p] <= 32) p = skipWs(b, p);
        const v = _number(b, p);
        // NaN (not a number) and infinities both fail here.
        if (_end >= n || !(Math.abs(v) < Infinity)) return -1;
        box[at + j] = v;
        p = _end;
        if (b[p] <= 32) p = skipWs(b, p);
        if (b[p] !== (j < 3 ? 44 : 93)) return -1;
      }
      p++;
    } else {
      const v = _number(b, p);
      if (_end >= n || !(Math.abs(v) < Infinity)) return -1;
      out[k] = v;
      p = _end;
    }
    seen |= 1 << k;
    if (b[p] <= 32) p = skipWs(b, p);
    if (b[p] === 125) break;
    if (b[p] !== 44) return -1;
    p++;
    if (b[p] <= 32) p = skipWs(b, p);
  }
  return seen === 15 && box[at + 2] >= 0 && box[at + 3] >= 0 ? p + 1 : -1;
}
