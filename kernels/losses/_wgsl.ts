/** (atanh y) / y for y <= 1/3, of `z` = y * y, to float32 accuracy. */
const ATANH_SERIES = `(1.0 + z * (0.33333334 + z * (0.2 + z * (0.14285715 + z * (0.11111111 + z * (0.09090909 +
    z * (0.07692308 + z * 0.06666667)))))))`;

/** `log1p_pos(u)` = log(1 + u) for u >= 0, with relative accuracy for small u (the series below u = 1, log above). */
export const LOG1P_WGSL = `fn log1p_pos(u: f32) -> f32 {
  let y = u / (2.0 + u);
  let z = y * y;
  return select(log(1.0 + u), 2.0 * y * ${ATANH_SERIES}, u <= 1.0);
}`;

/**
 * WGSL lines defining `sx` = sigma(x), `sy` = 1 - sigma(x), `sz` = log(1 + exp(-|x|)) without cancellation. log1p
 * is a series in y = e / (2 + e) because WGSL's log has only 2^-21 absolute accuracy near 1.
 */
export function sigmoidPartsWgsl(x: string, zero: string): string {
  return `let e = exp(-abs(${x}));
  let inv = 1.0 / (1.0 + e);
  let y = e / (2.0 + e);
  let z = y * y;
  let sz = 2.0 * y * ${ATANH_SERIES};
  let pos = ${x} >= ${zero};
  let sx = select(e * inv, inv, pos);
  let sy = select(inv, e * inv, pos);`;
}

export const SIGMOID_WGSL = `
fn sigmoid_parts(x: f32) -> vec3<f32> {
  ${sigmoidPartsWgsl("x", "0.0")}
  return vec3<f32>(sx, sy, sz);
}`;
