/**
 * The fused sigmoid-family loss step (bce, eqlv2, eql, focal, efl,
 * federated): one pass over the logits computes each element's weight,
 * loss and d loss / d logit, writes the gradient (and optionally the
 * weights), and leaves per-(row chunk, column) partial sums of the loss and
 * of the positive/negative gradient magnitudes for `lossColumnsKernel`.
 *
 * One invocation owns one column (or four adjacent ones, with vec4 loads,
 * where a row is a whole number of vec4s) over a chunk of rows: reads along a
 * workgroup are contiguous, per-column constants (EQL v2 weights from the
 * state before the step, EFL's gamma_j) are computed once, and the
 * per-category sums need no float atomics, so results are deterministic.
 */
import { defineKernel, f32 } from "../kernel.ts";
import { SIGMOID_WGSL } from "./_wgsl.ts";
import type { SigmoidConfig } from "../../losses/sigmoid_config.ts";

export interface SigmoidFusedParams {
  cfg: Pick<SigmoidConfig, "kind" | "numClasses" | "columns" | "gamma" | "mu" | "alpha" | "s">;
  rows: number;
  rowsPerChunk: number;
  writeWeights: boolean;
}

const WG = 64;

/** Chunks of rows the fused kernel splits `rows` into. */
export function lossChunks(rows: number, rowsPerChunk: number): number {
  return Math.max(1, Math.ceil(rows / rowsPerChunk));
}

/** Per-column constants of column `j`, named with suffix `s` (one set per column an invocation owns). */
function columnSetup(cfg: SigmoidFusedParams["cfg"], j = "j", s = ""): string {
  const c = cfg.numClasses;
  switch (cfg.kind) {
    case "eqlv2":
      return `var pw${s} = 1.0; var nw${s} = 1.0;
  if (${j} < ${c}u) {
    nw${s} = 1.0 / (1.0 + exp(-${f32(cfg.gamma)} * (S[${2 * c}u + ${j}] - ${f32(cfg.mu)})));
    pw${s} = 1.0 + ${f32(cfg.alpha)} * (1.0 - nw${s});
  }`;
    case "eql":
      return `let rare${s} = P[${j}];`;
    case "federated":
      return `let mask${s} = select(0.0, P[min(${j}, ${c - 1}u)], ${j} < ${c}u);`;
    case "efl":
      return `let gj${s} = ${f32(cfg.gamma)} + ${f32(cfg.s)} * (1.0 - S[${2 * c}u + min(${j}, ${c - 1}u)]);
  let wf${s} = gj${s} / ${f32(cfg.gamma)};`;
    case "focal":
      return `let gj${s} = ${f32(cfg.gamma)}; let wf${s} = 1.0;`;
    case "bce":
      return "";
  }
}

/** One element's weight w, loss l, gradient g and statistic st, from the column constants named with suffix `s`. */
function elementBody(cfg: SigmoidFusedParams["cfg"], s = ""): string {
  const c = cfg.numClasses;
  if (cfg.kind === "focal" || cfg.kind === "efl") {
    return `let a = select(${f32(1 - cfg.alpha)}, ${f32(cfg.alpha)}, is_t);
      let pt = select(sp.y, sp.x, is_t);
      let m = select(sp.x, sp.y, is_t);
      let mg = powg(m, gj${s});
      w = wf${s} * a * mg;
      l = w * bce;
      g = wf${s} * select(1.0, -1.0, is_t) * a * mg * (gj${s} * pt * bce + m);
      st = ${cfg.kind === "efl" ? "abs(g) * u.scale" : "abs(g)"};`;
  }
  const weight = {
    bce: "1.0",
    eqlv2: `select(nw${s}, pw${s}, is_t)`,
    eql: `1.0 - select(0.0, 1.0, lab < ${c}) * rare${s} * (1.0 - t)`,
    federated: `mask${s}`,
  }[cfg.kind];
  return `w = ${weight};
      l = w * bce;
      g = w * d;
      st = abs(g);`;
}

/** One element's math: from x, lab and j to is_t, w, l, g and st, with the column constants named with suffix `s`. */
function elementMath(cfg: SigmoidFusedParams["cfg"], s: string): string {
  return `let is_t = lab == i32(j);
    let t = select(0.0, 1.0, is_t);
    let sp = sigmoid_parts(x);
    let bce = max(x, 0.0) - x * t + sp.z;
    let d = select(sp.x, -sp.y, is_t);
    var w = 1.0; var l = 0.0; var g = 0.0; var st = 0.0;
    ${elementBody(cfg, s)}`;
}

/** Columns per invocation: 4 (vec4 loads and stores) where a row is a whole number of vec4s, else 1. */
export function sigmoidFusedWidth(columns: number): 1 | 4 {
  return columns % 4 === 0 ? 4 : 1;
}

/**
 * The kernel for `width` adjacent columns per invocation: 4 where a row is a whole number
 * of vec4s, so a row costs one load of the logits, one of the label and one store of the
 * gradient per 4 elements (on llvmpipe each storage access is a loop over the SIMD lanes,
 * so the count of accesses is the cost), else 1.
 */
function fusedWgsl(p: SigmoidFusedParams, width: 1 | 4): string {
  const { cfg, rows, rowsPerChunk: R } = p;
  const cols = cfg.columns, c = cfg.numClasses, n = cols / width;
  const t = width === 4 ? "vec4<f32>" : "f32";
  // Component q of a per-invocation value, and the flat index of column q's element.
  const at = (q: number) => (width === 4 ? `[${q}]` : "");
  const elem = (q: number) => (width === 4 ? `k * 4u + ${q}u` : "k");
  const setup: string[] = [], body: string[] = [], parts: string[] = [];
  for (let q = 0; q < width; q++) {
    setup.push(`let j_${q} = j0 + ${q}u;`, columnSetup(cfg, `j_${q}`, `_${q}`));
    body.push(`{
    let j = j_${q};
    let x = xv${at(q)};
    if (not_finite(x)) { bad = min(bad, ${elem(q)}); }
    ${elementMath(cfg, `_${q}`)}
    acc_l${at(q)} += l;
    if (is_t) { acc_p${at(q)} += st; } else { acc_n${at(q)} += st; }
    gv${at(q)} = u.scale * g;
    wv${at(q)} = w;
    }`);
    parts.push(
      `Part[b + ${q}u] = acc_l${at(q)};`,
      `Part[b + ${cols + q}u] = select(0.0, acc_p${at(q)}, j_${q} < ${c}u);`,
      `Part[b + ${2 * cols + q}u] = select(0.0, acc_n${at(q)}, j_${q} < ${c}u);`,
    );
  }
  return `${SIGMOID_WGSL}
struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<${t}>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<f32>;
@group(0) @binding(4) var<storage, read_write> G: array<${t}>;
@group(0) @binding(5) var<storage, read_write> W: array<${t}>;
@group(0) @binding(6) var<storage, read_write> Part: array<f32>;
@group(0) @binding(7) var<storage, read_write> Flag: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let jv = gid.x;
  let chunk = gid.y;
  if (jv >= ${n}u) { return; }
  // Keeps every binding in the layout whatever the kind uses.
  if (jv == 0xffffffffu) { W[0] = ${t}(S[0] + P[0]); }
  let j0 = jv * ${width}u;
  ${setup.join("\n  ")}
  var acc_l = ${t}(0.0); var acc_p = ${t}(0.0); var acc_n = ${t}(0.0);
  var bad = 0xffffffffu;
  let i1 = min(chunk * ${R}u + ${R}u, ${rows}u);
  for (var i = chunk * ${R}u; i < i1; i++) {
    let k = i * ${n}u + jv;
    let xv = X[k];
    let lab = L[i];
    if (jv == 0u && (lab < 0 || lab > ${c})) { atomicMin(&Flag[1], i); }
    var gv = ${t}(0.0); var wv = ${t}(0.0);
    ${body.join("\n    ")}
    G[k] = gv;
    ${p.writeWeights ? "W[k] = wv;" : ""}
  }
  if (bad != 0xffffffffu) { atomicMin(&Flag[0], bad); }
  let b = chunk * ${3 * cols}u + j0;
  ${parts.join("\n  ")}
}`;
}

export const sigmoidFusedKernel = defineKernel<SigmoidFusedParams>({
  name: "loss_sigmoid_fused",
  wgsl: (p) => fusedWgsl(p, sigmoidFusedWidth(p.cfg.columns)),
  dispatch: (p) => [
    Math.ceil(p.cfg.columns / sigmoidFusedWidth(p.cfg.columns) / WG),
    lossChunks(p.rows, p.rowsPerChunk),
    1,
  ],
});
