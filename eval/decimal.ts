/**
 * Correctly rounded decimal-to-double for up to 19 significant digits without a string: detectors print
 * float32 values as 16-17 digit doubles, past the 15-digit fast path, and `Number(string)` was 10x the parse.
 * Double-double arithmetic (~104 bits) decides the rounding except within 2^-98 of a midpoint: there the
 * caller parses the text.
 */

const _P10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const _SPLIT = 134217729; // 2^27 + 1, Dekker's splitter
const _F64 = new Float64Array(1);
const _U32 = new Uint32Array(_F64.buffer);

/** Error of a * b: a * b = fl(a * b) + returned value, exactly (Dekker). */
function _productError(a: number, b: number, p: number): number {
  let t = _SPLIT * a;
  const ah = t - (t - a), al = a - ah;
  t = _SPLIT * b;
  const bh = t - (t - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

function _gap(h: number, up: boolean): number {
  _F64[0] = h;
  const lo = _U32[0];
  // Little-endian: [0] is the low word of the significand.
  if (up) (_U32[0] = lo + 1, _U32[1] += lo === 0xffffffff ? 1 : 0);
  else (_U32[0] = lo - 1, _U32[1] -= lo === 0 ? 1 : 0);
  return Math.abs(_F64[0] - h);
}

/**
 * The double nearest to `(hi * 10^loDigits + lo) * 10^exp10` (hi: at most 15 digits, lo: at most 4, exp10 in
 * [-22, 22]), or NaN when this method cannot decide it.
 */
export function decimalToDouble(hi: number, lo: number, loDigits: number, exp10: number): number {
  if (loDigits > 4 || exp10 < -22 || exp10 > 22) return NaN;
  // m = hi * 10^loDigits + lo, exactly, as mh + ml (an integer below 2^64 fits in two doubles).
  const scale = _P10[loDigits];
  const p = hi * scale, pe = _productError(hi, scale, p);
  let mh = p + lo;
  const bb = mh - p;
  let ml = (p - (mh - bb)) + (lo - bb) + pe;
  let s = mh + ml;
  ml = ml - (s - mh);
  mh = s;
  if (mh === 0) return 0;
  let h: number, l: number;
  const d = _P10[exp10 < 0 ? -exp10 : exp10];
  if (exp10 >= 0) {
    h = mh * d;
    l = _productError(mh, d, h) + ml * d;
  } else {
    h = mh / d;
    const q = h * d;
    l = ((mh - q) - _productError(h, d, q) + ml) / d;
  }
  s = h + l;
  l = l - (s - h);
  h = s;
  // h is the double nearest to h + l; the true value is within 2^-98 |h| of h + l.
  const tol = h * 3.2e-30;
  const half = _gap(h, l >= 0) / 2;
  return Math.abs(Math.abs(l) - half) <= tol ? NaN : h;
}
