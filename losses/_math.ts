/** The logistic sigmoid, without overflow for large |x|. */
export function _sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** BCE(x, t) = max(x, 0) - x t + log(1 + exp(-|x|)), the numerically stable form. */
export function _bce(x: number, t: number): number {
  return Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
}

export function _logSumExp(v: ArrayLike<number>, from: number, to: number): number {
  let m = -Infinity;
  for (let k = from; k < to; k++) m = Math.max(m, v[k]);
  let s = 0;
  for (let k = from; k < to; k++) s += Math.exp(v[k] - m);
  return m + Math.log(s);
}

/** m^g with 0^0 = 1, as the focal factor needs. */
export function _powg(m: number, g: number): number {
  return g === 0 ? 1 : m <= 0 ? 0 : Math.pow(m, g);
}

export function _softmaxInto(v: ArrayLike<number>, out: Float64Array, from: number, to: number): void {
  const lse = _logSumExp(v, from, to);
  for (let k = from; k < to; k++) out[k] = Math.exp(v[k] - lse);
}
