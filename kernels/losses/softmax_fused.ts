/**
 * Softmax-family loss kernels (ce, seesaw). `seesawCountKernel` adds the
 * batch's labels to the cumulative counts before the loss and stores the
 * number of foreground rows; `softmaxRowKernel` (one workgroup per row)
 * writes d loss / d logits, the weights and the row's loss;
 * `softmaxStatsKernel` sums per-category gradient magnitudes and row losses
 * into the partials that `lossColumnsKernel` reduces.
 */
import { defineKernel, f32, flatIndex, grid1d } from "../kernel.ts";
import { SIGMOID_WGSL } from "./_wgsl.ts";

export interface SoftmaxKernelParams {
  kind: "ce" | "seesaw";
  rows: number;
  numClasses: number;
  columns: number;
  lossWeight: number;
  p: number;
  q: number;
  eps: number;
}

const WG = 64;

export const seesawCountKernel = defineKernel<{ rows: number; numClasses: number }>({
  name: "loss_seesaw_counts",
  wgsl: ({ rows, numClasses: c }) => `
@group(0) @binding(0) var<storage, read> L: array<i32>;
@group(0) @binding(1) var<storage, read_write> Cum: array<f32>;
@group(0) @binding(2) var<storage, read_write> Misc: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c > ${c}u) { return; }
  var n = 0u;
  for (var i = 0u; i < ${rows}u; i++) { n += select(0u, 1u, L[i] == i32(c)); }
  Cum[c] += f32(n);
  if (c == ${c}u) { Misc[0] = f32(${rows}u - n); }
}`,
  dispatch: ({ numClasses }) => [Math.ceil((numClasses + 1) / 64), 1, 1],
});

/** WGSL of z_j: the logit plus Seesaw's log(mitigation * compensation) offset for j != label. */
function seesawLogit(p: SoftmaxKernelParams): string {
  return `fn zlogit(x: f32, j: u32, lab: u32, nself: f32, self_p: f32, m1: f32, s1: f32) -> f32 {
  if (j == lab) { return x; }
  let ratio = max(Cum[j], 1.0) / nself;
  let comp = exp(x - m1) / s1 / self_p;
  return x + select(0.0, ${f32(p.p)} * log(ratio), ratio < 1.0) + select(0.0, ${f32(p.q)} * log(comp), comp > 1.0);
}`;
}

export const softmaxRowKernel = defineKernel<SoftmaxKernelParams>({
  name: "loss_softmax_rows",
  wgsl(p) {
    const { columns: cols, numClasses: c, rows } = p;
    const n = p.kind === "ce" ? cols : c;
    const row = (expr: string, op: "max" | "sum") =>
      `{ var a = ${op === "max" ? "-3.4e38" : "0.0"};
    for (var j = tid; j < ${n}u; j += ${WG}u) { let x = X[o + j]; a = ${
        op === "max" ? `max(a, ${expr})` : `a + ${expr}`
      }; }
    red[tid] = a; workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
      if (tid < s) { red[tid] = ${op === "max" ? "max(red[tid], red[tid + s])" : "red[tid] + red[tid + s]"}; }
      workgroupBarrier();
    }
    r = red[0]; workgroupBarrier(); }`;
    const ce = `var r = 0.0;
  ${row("x", "max")} let m = r;
  ${row("exp(x - m)", "sum")} let z = r;
  for (var j = tid; j < ${cols}u; j += ${WG}u) {
    let x = X[o + j];
    if (not_finite(x)) { atomicMin(&Flag[0], o + j); }
    G[o + j] = u.scale * (exp(x - m) / z - select(0.0, 1.0, j == lab));
    W[o + j] = 1.0;
  }
  if (tid == 0u) { RowLoss[i] = u.scale * (m + log(z) - X[o + lab]); }`;
    const seesaw = `let is_pos = lab < ${c}u;
  let labc = min(lab, ${c - 1}u);
  let cls_scale = ${f32(p.lossWeight)} / max(Misc[0], 1.0);
  var r = 0.0;
  ${row("x", "max")} let m1 = r;
  ${row("exp(x - m1)", "sum")} let s1 = r;
  let self_p = max(exp(X[o + labc] - m1) / s1, ${f32(p.eps)});
  let nself = max(Cum[labc], 1.0);
  ${row("zlogit(x, j, labc, nself, self_p, m1, s1)", "max")} let m2 = r;
  ${row("exp(zlogit(x, j, labc, nself, self_p, m1, s1) - m2)", "sum")} let s2 = r;
  for (var j = tid; j < ${cols}u; j += ${WG}u) {
    let x = X[o + j];
    if (not_finite(x)) { atomicMin(&Flag[0], o + j); }
    if (j < ${c}u) {
      let zj = zlogit(x, j, labc, nself, self_p, m1, s1);
      G[o + j] = select(0.0, cls_scale * (exp(zj - m2) / s2 - select(0.0, 1.0, j == lab)), is_pos);
      W[o + j] = select(1.0, exp(zj - x), is_pos);
    }
  }
  if (tid == 0u) {
    let o0 = X[o + ${c}u]; let o1 = X[o + ${c + 1}u];
    let po = sigmoid_parts(o0 - o1);
    let bg = select(0.0, 1.0, lab == ${c}u);
    G[o + ${c}u] = u.scale * (po.x - (1.0 - bg));
    G[o + ${c + 1}u] = u.scale * (po.y - bg);
    W[o + ${c}u] = 1.0; W[o + ${c + 1}u] = 1.0;
    // 2-way cross-entropy = softplus of the other logit minus the target's.
    let obj = max(select(o1 - o0, o0 - o1, lab == ${c}u), 0.0) + po.z;
    RowLoss[i] = u.scale * obj + select(0.0, cls_scale * (m2 + log(s2) - X[o + labc]), is_pos);
  }`;
    return `${SIGMOID_WGSL}
struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> Cum: array<f32>;
@group(0) @binding(3) var<storage, read> Misc: array<f32>;
@group(0) @binding(4) var<storage, read_write> G: array<f32>;
@group(0) @binding(5) var<storage, read_write> W: array<f32>;
@group(0) @binding(6) var<storage, read_write> RowLoss: array<f32>;
@group(0) @binding(7) var<storage, read_write> Flag: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> u: U;
var<workgroup> red: array<f32, ${WG}>;
${p.kind === "seesaw" ? seesawLogit(p) : ""}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let i = ${flatIndex("wid", 1)};
  if (i >= ${rows}u) { return; }
  if (i == 0xffffffffu) { W[0] = Cum[0] + Misc[0]; }
  let o = i * ${cols}u;
  let lab_raw = L[i];
  if (tid == 0u && (lab_raw < 0 || lab_raw > ${c})) { atomicMin(&Flag[1], i); }
  let lab = u32(clamp(lab_raw, 0, ${c}));
  ${p.kind === "ce" ? ce : seesaw}
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, 1),
});

export const softmaxStatsKernel = defineKernel<
  { kind: "ce" | "seesaw"; rows: number; numClasses: number; columns: number; rowsPerChunk: number; lossWeight: number }
>({
  name: "loss_softmax_stats",
  wgsl: ({ kind, rows, numClasses: c, columns: cols, rowsPerChunk: R, lossWeight }) =>
    `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> RowLoss: array<f32>;
@group(0) @binding(3) var<storage, read> Misc: array<f32>;
@group(0) @binding(4) var<storage, read_write> Part: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let chunk = gid.y;
  if (j >= ${cols}u) { return; }
  // Statistics are unnormalised: undo loss_weight / avg.
  let inv = ${kind === "ce" ? "1.0 / u.scale" : `max(Misc[0], 1.0) / ${f32(lossWeight)}`};
  // Both bindings stay in the layout whichever branch the kind takes.
  if (j == 0xffffffffu) { Part[0] = Misc[0] + u.scale; }
  var l = 0.0; var ps = 0.0; var ng = 0.0;
  let i1 = min(chunk * ${R}u + ${R}u, ${rows}u);
  for (var i = chunk * ${R}u; i < i1; i++) {
    let g = abs(G[i * ${cols}u + j]) * inv;
    if (L[i] == i32(j)) { ps += g; } else { ng += g; }
    if (j == 0u) { l += RowLoss[i]; }
  }
  let b = chunk * ${3 * cols}u + j;
  Part[b] = l;
  Part[b + ${cols}u] = select(0.0, ps, j < ${c}u);
  Part[b + ${2 * cols}u] = select(0.0, ng, j < ${c}u);
}`,
  dispatch: (
    { rows, columns, rowsPerChunk },
  ) => [Math.ceil(columns / WG), Math.max(1, Math.ceil(rows / rowsPerChunk)), 1],
});
