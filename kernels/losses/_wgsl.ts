/** WGSL helpers shared by the loss kernels. */

/**
 * `sigmoid_parts(x)` returns (sigma(x), 1 - sigma(x), log(1 + exp(-|x|))), each
 * without cancellation. log1p is a series in y = e / (2 + e) (log1p(e) =
 * 2 atanh y, y <= 1/3) because WGSL's log has only 2^-21 absolute accuracy near 1.
 * `not_finite(x)` tests the exponent bits, as WGSL has no isnan.
 */
export const SIGMOID_WGSL = `
fn sigmoid_parts(x: f32) -> vec3<f32> {
  let e = exp(-abs(x));
  let inv = 1.0 / (1.0 + e);
  let y = e / (2.0 + e);
  let z = y * y;
  let s = 1.0 + z * (0.33333334 + z * (0.2 + z * (0.14285715 + z * (0.11111111 + z * (0.09090909 +
    z * (0.07692308 + z * 0.06666667))))));
  let pos = x >= 0.0;
  return vec3<f32>(select(e * inv, inv, pos), select(inv, e * inv, pos), 2.0 * y * s);
}
fn not_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}
fn powg(m: f32, g: f32) -> f32 {
  if (g == 0.0) { return 1.0; }
  if (m <= 0.0) { return 0.0; }
  return exp2(g * log2(m));
}`;
