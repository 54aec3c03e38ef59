// Byte-level JSON scanning shared by the results and ground-truth readers.
import { decimalToDouble } from "./decimal.ts";

const _POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const _LATIN1 = new TextDecoder("latin1");

let _end = 0;
/** `numberEnd()` after text that is not a number. */
export const BAD = -1;

export function numberEnd(): number {
  return _end;
}

/** Correctly rounded; the first 15 significant digits exactly in `hi`, the next 4 in `lo`, beyond that the text decides. */
export function numberAt(b: Uint8Array, p: number): number {
  const start = p, n = b.length;
  let neg = false;
  if (b[p] === 45) (neg = true, p++);
  let hi = 0, lo = 0, sig = 0, exp10 = 0, c = b[p];
  const intStart = p;
  // Leading zeros leave hi at 0 and count for nothing; sig counts from the first non-zero digit.
  while (c >= 48 && c <= 57 && p < n) {
    if (sig < 15) (hi = hi * 10 + (c - 48), sig += hi > 0 ? 1 : 0);
    else if (sig++ < 19) lo = lo * 10 + (c - 48);
    else exp10++;
    c = b[++p];
  }
  if (p === intStart) return (_end = BAD, NaN);
  if (c === 46 && p < n) {
    const fracStart = ++p;
    c = b[p];
    while (c >= 48 && c <= 57 && p < n) {
      if (sig < 15) (hi = hi * 10 + (c - 48), sig += hi > 0 ? 1 : 0, exp10--);
      else if (sig++ < 19) (lo = lo * 10 + (c - 48), exp10--);
      c = b[++p];
    }
    if (p === fracStart) return (_end = p >= n ? n : BAD, NaN);
  }
  if ((c === 101 || c === 69) && p < n) {
    p++;
    let eneg = false, e = 0;
    if (b[p] === 45 || b[p] === 43) (eneg = b[p] === 45, p++);
    const expStart = p;
    while (p < n && b[p] >= 48 && b[p] <= 57) (e = e * 10 + b[p] - 48, p++);
    if (p === expStart) return (_end = p >= n ? n : BAD, NaN);
    exp10 += eneg ? -e : e;
  }
  _end = p;
  let v = NaN;
  // Clinger's fast path: an exact mantissa and an exact power of ten round once, correctly.
  if (sig <= 15 && exp10 >= -22 && exp10 <= 22) v = exp10 < 0 ? hi / _POW10[-exp10] : hi * _POW10[exp10];
  else if (sig <= 19) v = decimalToDouble(hi, lo, sig - 15, exp10);
  if (v !== v) v = Number(_LATIN1.decode(b.subarray(start + (neg ? 1 : 0), p)));
  return neg ? -v : v;
}

export function skipWs(b: Uint8Array, p: number): number {
  while (p < b.length && (b[p] === 32 || b[p] === 10 || b[p] === 13 || b[p] === 9)) p++;
  return p;
}

export function keyOf(b: Uint8Array, at: number, len: number, keys: Uint8Array[]): number {
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k];
    if (key.length !== len) continue;
    let j = 0;
    while (j < len && b[at + j] === key[j]) j++;
    if (j === len) return k;
  }
  return -1;
}

export function skipString(b: Uint8Array, p: number): number {
  for (p++; p < b.length; p++) {
    if (b[p] === 34) return p + 1;
    if (b[p] === 92) p++;
  }
  return -1;
}

export function skipValue(b: Uint8Array, p: number): number {
  let depth = 0;
  do {
    p = skipWs(b, p);
    const c = b[p];
    if (c === 34) p = skipString(b, p);
    else if (c === 91 || c === 123) (depth++, p++);
    else if (c === 93 || c === 125) (depth--, p++);
    else if (c === 44 || c === 58) p++;
    else {
      const s = p;
      while (p < b.length && b[p] !== 44 && b[p] !== 93 && b[p] !== 125 && b[p] > 32) p++;
      if (p === s) return -1;
    }
    if (p < 0 || p > b.length || depth < 0) return -1;
  } while (depth > 0);
  return p;
}
