// One workgroup per group reduces with a tree in workgroup memory; statistics are two-pass (mean, then squared
// deviations), which stays accurate when |mean| >> std.
import { defineKernel, f32, flatIndex, grid1d } from "./kernel.ts";

export interface GroupNormParams {
  N: number;
  C: number;
  G: number;
  HW: number;
  eps: number;
}

const WG = 64;

function wgSum(v: string, total: string): string {
  return `red[li] = ${v};
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { red[li] = red[li] + red[li + s]; }
    workgroupBarrier();
  }
  let ${total} = red[0];
  workgroupBarrier();`;
}

const HEAD = `var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {`;

/** Per (n, group): S[2k] = mean, S[2k + 1] = 1 / sqrt(var + eps). Binds X, S. */
export const groupNormStatsKernel = defineKernel<GroupNormParams>({
  name: "group_norm_stats",
  wgsl(p) {
    const M = (p.C / p.G) * p.HW;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> S: array<f32>;
${HEAD}
  let k = wg.x;
  let b = k * ${M}u;
  var a = 0.0;
  for (var j = li; j < ${M}u; j += ${WG}u) { a += X[b + j]; }
  ${wgSum("a", "sum")}
  let mean = sum / ${f32(M)};
  var q = 0.0;
  for (var j = li; j < ${M}u; j += ${WG}u) { let d = X[b + j] - mean; q += d * d; }
  ${wgSum("q", "sq")}
  if (li == 0u) {
    S[2u * k] = mean;
    S[2u * k + 1u] = inverseSqrt(sq / ${f32(M)} + ${f32(p.eps)});
  }
}`;
  },
  dispatch: (p) => [p.N * p.G, 1, 1],
});

/** Y = (X - mean) * rstd * gamma[c] + beta[c]. Binds X, S, gamma, beta, Y. */
export const groupNormApplyKernel = defineKernel<GroupNormParams>({
  name: "group_norm_apply",
  wgsl(p) {
    const n = p.N * p.C * p.HW;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> Gm: array<f32>;
@group(0) @binding(3) var<storage, read> Bt: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let nc = i / ${p.HW}u;
  let c = nc % ${p.C}u;
  let k = nc / ${p.C / p.G}u;
  Y[i] = (X[i] - S[2u * k]) * S[2u * k + 1u] * Gm[c] + Bt[c];
}`;
  },
  dispatch: (p) => grid1d(p.N * p.C * p.HW, WG),
});

/**
 * Per (n, group): T[2k] = sum(dy * gamma) / M, T[2k + 1] = sum(dy * gamma * xhat) / M.
 * Binds X, S, DY, gamma, T.
 */
export const groupNormBackwardStatsKernel = defineKernel<GroupNormParams>({
  name: "group_norm_backward_stats",
  wgsl(p) {
    const cg = p.C / p.G;
    const M = cg * p.HW;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read> Gm: array<f32>;
@group(0) @binding(4) var<storage, read_write> T: array<f32>;
${HEAD}
  let k = wg.x;
  let b = k * ${M}u;
  let mean = S[2u * k];
  let rstd = S[2u * k + 1u];
  let c0 = (k % ${p.G}u) * ${cg}u;
  var a = 0.0;
  var q = 0.0;
  for (var j = li; j < ${M}u; j += ${WG}u) {
    let dg = DY[b + j] * Gm[c0 + j / ${p.HW}u];
    a += dg;
    q += dg * (X[b + j] - mean) * rstd;
  }
  ${wgSum("a", "s1")}
  ${wgSum("q", "s2")}
  if (li == 0u) {
    T[2u * k] = s1 / ${f32(M)};
    T[2u * k + 1u] = s2 / ${f32(M)};
  }
}`;
  },
  dispatch: (p) => [p.N * p.G, 1, 1],
});

/** DX = rstd * (dy * gamma - T0 - xhat * T1). Binds X, S, DY, gamma, T, DX. */
export const groupNormBackwardInputKernel = defineKernel<GroupNormParams>({
  name: "group_norm_backward_input",
  wgsl(p) {
    const n = p.N * p.C * p.HW;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read> Gm: array<f32>;
@group(0) @binding(4) var<storage, read> T: array<f32>;
@group(0) @binding(5) var<storage, read_write> DX: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  let nc = i / ${p.HW}u;
  let c = nc % ${p.C}u;
  let k = nc / ${p.C / p.G}u;
  let rstd = S[2u * k + 1u];
  let xhat = (X[i] - S[2u * k]) * rstd;
  DX[i] = rstd * (DY[i] * Gm[c] - T[2u * k] - xhat * T[2u * k + 1u]);
}`;
  },
  dispatch: (p) => grid1d(p.N * p.C * p.HW, WG),
});

/** Per channel: DG[c] = sum over n, hw of dy * xhat (d gamma), DB[c] = sum of dy (d beta). Binds X, S, DY, DG, DB. */
export const groupNormParamGradKernel = defineKernel<GroupNormParams>({
  name: "group_norm_param_grad",
  wgsl(p) {
    const M = p.N * p.HW;
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> DG: array<f32>;
@group(0) @binding(4) var<storage, read_write> DB: array<f32>;
${HEAD}
  let c = wg.x;
  var a = 0.0;
  var q = 0.0;
  for (var j = li; j < ${M}u; j += ${WG}u) {
    let n = j / ${p.HW}u;
    let i = (n * ${p.C}u + c) * ${p.HW}u + j % ${p.HW}u;
    let k = n * ${p.G}u + c / ${p.C / p.G}u;
    let dy = DY[i];
    q += dy;
    a += dy * (X[i] - S[2u * k]) * S[2u * k + 1u];
  }
  ${wgSum("a", "dg")}
  ${wgSum("q", "db")}
  if (li == 0u) {
    DG[c] = dg;
    DB[c] = db;
  }
}`;
  },
  dispatch: (p) => [p.C, 1, 1],
});
