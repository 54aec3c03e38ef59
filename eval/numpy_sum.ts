/**
 * Sums and means in numpy 1.24's order, bit-identical to the reference: from 0, buffers of 8192 elements left to
 * right, each summed pairwise (8-way unrolled leaves of at most 128 elements).
 */

const _BUFFER = 8192;

function _pairwise(values: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i];
    return res;
  }
  if (n <= 128) {
    let r0 = values[start], r1 = values[start + 1], r2 = values[start + 2], r3 = values[start + 3];
    let r4 = values[start + 4], r5 = values[start + 5], r6 = values[start + 6], r7 = values[start + 7];
    const whole = n - (n % 8);
    let i = 8;
    for (; i < whole; i += 8) {
      const p = start + i;
      r0 += values[p];
      r1 += values[p + 1];
      r2 += values[p + 2];
      r3 += values[p + 3];
      r4 += values[p + 4];
      r5 += values[p + 5];
      r6 += values[p + 6];
      r7 += values[p + 7];
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += values[start + i];
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return _pairwise(values, start, half) + _pairwise(values, start + half, n - half);
}

/**
 * `np.sum` of the first `n` values of a contiguous float64 array.
 *
 * @param values the values, in the order numpy would see them
 * @param n how many to sum (default: all)
 * @returns the sum, bit-identical to numpy 1.24
 * @example
 * ```ts
 * numpySum([0.1, 0.2, 0.3]); // 0.6000000000000001
 * ```
 */
export function numpySum(values: ArrayLike<number>, n: number = values.length): number {
  let res = 0;
  for (let start = 0; start < n; start += _BUFFER) res += _pairwise(values, start, Math.min(_BUFFER, n - start));
  return res;
}

/**
 * The reference's summary mean: `np.mean(s[s > -1])`, or -1 when nothing is valid.
 *
 * @param values candidate values in numpy's flattening order; entries <= -1 are skipped
 * @returns the mean of the valid entries, or -1
 * @example
 * ```ts
 * validMean([0.5, -1, 1]); // 0.75
 * ```
 */
export function validMean(values: ArrayLike<number>): number {
  const kept = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > -1) kept[n++] = values[i];
  return n === 0 ? -1 : numpySum(kept, n) / n;
}
