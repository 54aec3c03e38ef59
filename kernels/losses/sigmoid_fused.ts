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
import type { SigmoidConfig } from "../../losses/sigmoid_config.ts";

export interface SigmoidFusedParams {
  cfg: Pick<SigmoidConfig, "kind" | "numClasses" | "columns" | "gamma" | "mu" | "alpha" | "s">;
  /** This dispatch's rows are [rowStart, rowEnd). */
  rowStart: number;
  rowEnd: number;
  /** A multiple of 4, so that a chunk is whole blocks of rows. */
  rowsPerChunk: number;
  writeWeights: boolean;
  /** 4: vec4 loads over blocks of `rowsPerBlock(columns)` rows; 1: one column per invocation. */
  width: 1 | 4;
  /** The partial-sum slot of this dispatch's first chunk. */
  slotStart: number;
}

const WG = 64;

/** Chunks of rows the fused kernel splits `rows` into. */
export function lossChunks(rows: number, rowsPerChunk: number): number {
  return Math.max(1, Math.ceil(rows / rowsPerChunk));
}

/** WGSL types and helpers for `width` columns per invocation (vec4 or scalar). */
function vecTypes(width: 1 | 4) {
  const v = width === 4;
  return {
    F: v ? "vec4<f32>" : "f32",
    B: v ? "vec4<bool>" : "bool",
    I: v ? "vec4<i32>" : "i32",
    U: v ? "vec4<u32>" : "u32",
    /** `x` broadcast to the float type. */
    splat: (x: string) => (v ? `vec4<f32>(${x})` : x),
    /** Per-column values `arr[idx[q]]`, one load per column. */
    gather: (arr: string, idx: string) =>
      v ? `vec4<f32>(${["x", "y", "z", "w"].map((c) => `${arr}[${idx}.${c}]`).join(", ")})` : `${arr}[${idx}]`,
  };
}

/** Per-column constants (EQL v2 weights from the state before the step, EFL's gamma_j, ...), as values of the float type. */
function columnSetup(cfg: SigmoidFusedParams["cfg"], width: 1 | 4): string {
  const c = cfg.numClasses;
  const { splat, gather, F } = vecTypes(width);
  switch (cfg.kind) {
    case "eqlv2":
      return `let nw = select(${splat("1.0")}, 1.0 / (1.0 + exp(${f32(-cfg.gamma)} * (${
        gather("S", `(${2 * c}u + jc)`)
      } - ${f32(cfg.mu)}))), real);
  let pw = select(${splat("1.0")}, 1.0 + ${f32(cfg.alpha)} * (1.0 - nw), real);`;
    case "eql":
      return `let rare = ${gather("P", "jj")};`;
    case "federated":
      return `let mask = select(${splat("0.0")}, ${gather("P", "jc")}, real);`;
    case "efl":
      return `let gj = ${f32(cfg.gamma)} + ${f32(cfg.s)} * (1.0 - ${gather("S", `(${2 * c}u + jc)`)});
  let wf = gj / ${f32(cfg.gamma)};`;
    case "focal":
      return `let gj = ${splat(f32(cfg.gamma))}; let wf = ${F}(1.0);`;
    case "bce":
      return "";
  }
}

/** The elements' weight w, loss l, gradient g and statistic st, from x, is_t, t and the sigmoid parts. */
function elementBody(cfg: SigmoidFusedParams["cfg"], width: 1 | 4): string {
  const c = cfg.numClasses;
  const { splat, I } = vecTypes(width);
  const one = splat("1.0"), zero = splat("0.0");
  if (cfg.kind === "focal" || cfg.kind === "efl") {
    return `let a = select(${splat(f32(1 - cfg.alpha))}, ${splat(f32(cfg.alpha))}, is_t);
    let pt = select(sy, sx, is_t);
    let m = select(sx, sy, is_t);
    // m^gamma_j, with 0^g = 0 and m^0 = 1 (log2 of 0 is selected away).
    let mg = select(select(exp2(gj * log2(m)), ${zero}, m <= ${zero}), ${one}, gj == ${zero});
    let w = wf * a * mg;
    let l = w * bce;
    let g = wf * select(${one}, ${splat("-1.0")}, is_t) * a * mg * (gj * pt * bce + m);
    let st = ${cfg.kind === "efl" ? "abs(g) * u.scale" : "abs(g)"};`;
  }
  const weight = {
    bce: one,
    eqlv2: "select(nw, pw, is_t)",
    eql: `1.0 - select(${zero}, ${one}, lab < ${I}(${c})) * rare * (1.0 - t)`,
    federated: "mask",
  }[cfg.kind];
  return `let w = ${weight};
    let l = w * bce;
    let g = w * d;
    let st = abs(g);`;
}

/**
 * Rows per block of the vec4 kernel: the fewest rows whose elements are a whole number of
 * vec4s (1 where a row is, 2 for an even column count, else 4). Each invocation then owns
 * the same 4 (row in block, column) pairs in every block, so per-column constants and
 * per-column sums stay per invocation.
 */
export function rowsPerBlock(columns: number): 1 | 2 | 4 {
  return columns % 4 === 0 ? 1 : columns % 2 === 0 ? 2 : 4;
}

/**
 * The dispatches of one loss step: the vec4 kernel over the whole blocks of rows, and the
 * one-column kernel over the 0-3 rows left after them; `slots` partial sums in all.
 */
export function sigmoidFusedPlan(
  base: Pick<SigmoidFusedParams, "cfg" | "rowsPerChunk" | "writeWeights">,
  rows: number,
): { dispatches: SigmoidFusedParams[]; slots: number } {
  const bl = rowsPerBlock(base.cfg.columns), whole = rows - rows % bl, R = base.rowsPerChunk;
  if (R % 4 !== 0) throw new Error(`rowsPerChunk must be a multiple of 4, got ${R}`);
  const dispatches: SigmoidFusedParams[] = [];
  let slots = 0;
  if (whole > 0) {
    dispatches.push({ ...base, rowStart: 0, rowEnd: whole, width: 4, slotStart: 0 });
    slots += lossChunks(whole, R) * bl;
  }
  if (whole < rows || rows === 0) {
    dispatches.push({ ...base, rowStart: whole, rowEnd: rows, width: 1, slotStart: slots });
    slots += lossChunks(rows - whole, R);
  }
  return { dispatches, slots };
}

/** WGSL: the block's labels l0.. and the label of each component (lab), from rows i0 + ro. */
function blockLabels(bl: 1 | 2 | 4, c: number): string {
  const ls = Array.from({ length: bl }, (_, r) => `let l${r} = L[i0 + ${r}u];`);
  let pick = `vec4<i32>(l${bl - 1})`;
  for (let r = bl - 2; r >= 0; r--) pick = `select(${pick}, vec4<i32>(l${r}), ro == vec4<u32>(${r}u))`;
  const bads = Array.from({ length: bl }, (_, r) => `select(0xffffffffu, i0 + ${r}u, l${r} < 0 || l${r} > ${c})`);
  let firstBad = bads[bl - 1];
  for (let r = bl - 2; r >= 0; r--) firstBad = `min(${bads[r]}, ${firstBad})`;
  return `${ls.join(" ")}
    let lab = ${pick};
    bad_label = min(bad_label, ${firstBad});`;
}

/**
 * The kernel. Width 4: vec4 loads and stores over blocks of `rowsPerBlock` rows, so 4
 * elements cost one load of the logits and one store of the gradient (on llvmpipe each
 * storage access is a loop over the SIMD lanes, so the count of accesses is the cost);
 * width 1: one column per invocation, for the rows after the last whole block. The
 * element math is written once on the vector type and has no branches: on a SIMD CPU
 * adapter a data-dependent `if` costs a mask update and a test whether any lane takes it.
 */
function fusedWgsl(p: SigmoidFusedParams): string {
  const { cfg, rowStart, rowEnd, rowsPerChunk: R, width } = p;
  const cols = cfg.columns, c = cfg.numClasses, v4 = width === 4;
  const bl = v4 ? rowsPerBlock(cols) : 1;
  // Invocations per block of rows, blocks per chunk, blocks in this dispatch.
  const n = v4 ? bl * cols / 4 : cols, perChunk = R / bl, blocks = (rowEnd - rowStart) / bl;
  const { F, B, I, U, splat } = vecTypes(width);
  const zero = splat("0.0");
  const at = (q: number) => (v4 ? `[${q}]` : "");
  // The first non-finite component's flat index: k * 4 + the lowest q whose nf[q] is set.
  const firstBad = v4 ? "k * 4u + select(select(select(3u, 2u, nf.z), 1u, nf.y), 0u, nf.x)" : "k";
  const parts: string[] = [];
  for (let q = 0; q < width; q++) {
    // Slot (chunk, row in block) of component q, then column jj[q].
    const b = `(${p.slotStart}u + chunk * ${bl}u + ro${at(q)}) * ${3 * cols}u + jj${at(q)}`;
    parts.push(
      `Part[${b}] = acc_l${at(q)};`,
      `Part[${b} + ${cols}u] = select(0.0, acc_p${at(q)}, real${at(q)});`,
      `Part[${b} + ${2 * cols}u] = select(0.0, acc_n${at(q)}, real${at(q)});`,
    );
  }
  return `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<${F}>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<f32>;
@group(0) @binding(4) var<storage, read_write> G: array<${F}>;
@group(0) @binding(5) var<storage, read_write> W: array<${F}>;
@group(0) @binding(6) var<storage, read_write> Part: array<f32>;
@group(0) @binding(7) var<storage, read_write> Flag: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let jv = gid.x;
  // The row chunk, from the workgroup id so that the compiler sees it uniform (row loads become one load).
  let chunk = wid.y;
  if (jv >= ${n}u) { return; }
  // Keeps every binding in the layout whatever the kind uses.
  if (jv == 0xffffffffu) { W[0] = ${F}(S[0] + P[0]); }
  // Each component's row in the block and column.
  let ev = ${v4 ? "vec4<u32>(jv * 4u) + vec4<u32>(0u, 1u, 2u, 3u)" : "jv"};
  let ro = ev / ${U}(${cols}u);
  let jj = ev % ${U}(${cols}u);
  let real = jj < ${U}(${c}u);
  let jc = min(jj, ${U}(${c - 1}u));
  let ji = ${I}(jj);
  ${columnSetup(cfg, width)}
  var acc_l = ${zero}; var acc_p = ${zero}; var acc_n = ${zero};
  var bad = 0xffffffffu;
  var bad_label = 0xffffffffu;
  let k1 = min(chunk * ${perChunk}u + ${perChunk}u, ${blocks}u);
  for (var kb = chunk * ${perChunk}u; kb < k1; kb++) {
    let i0 = ${rowStart}u + kb * ${bl}u;
    let k = ${rowStart * cols / width}u + kb * ${n}u + jv;
    let x = X[k];
    ${
    v4 ? blockLabels(bl, c) : `let lab = L[i0];
    bad_label = select(bad_label, min(bad_label, i0), lab < 0 || lab > ${c});`
  }
    let nf = (bitcast<${U}>(x) & ${U}(0x7f800000u)) == ${U}(0x7f800000u);
    bad = select(bad, min(bad, ${firstBad}), any(nf));
    let is_t: ${B} = lab == ji;
    let t = select(${zero}, ${splat("1.0")}, is_t);
    // sigma(x), 1 - sigma(x) and log(1 + exp(-|x|)) without cancellation, as in SIGMOID_WGSL.
    let e = exp(-abs(x));
    let inv = 1.0 / (1.0 + e);
    let y = e / (2.0 + e);
    let z = y * y;
    let sz = 2.0 * y * (1.0 + z * (0.33333334 + z * (0.2 + z * (0.14285715 + z * (0.11111111 + z * (0.09090909 +
      z * (0.07692308 + z * 0.06666667)))))));
    let pos = x >= ${zero};
    let sx = select(e * inv, inv, pos);
    let sy = select(inv, e * inv, pos);
    let bce = max(x, ${zero}) - x * t + sz;
    let d = select(sx, -sy, is_t);
    ${elementBody(cfg, width)}
    acc_l += l;
    acc_p += select(${zero}, st, is_t);
    acc_n += select(st, ${zero}, is_t);
    G[k] = u.scale * g;
    ${p.writeWeights ? "W[k] = w;" : ""}
  }
  if (bad != 0xffffffffu) { atomicMin(&Flag[0], bad); }
  if (jv == 0u && bad_label != 0xffffffffu) { atomicMin(&Flag[1], bad_label); }
  ${parts.join("\n  ")}
}`;
}

export const sigmoidFusedKernel = defineKernel<SigmoidFusedParams>({
  name: "loss_sigmoid_fused",
  wgsl: fusedWgsl,
  dispatch: (p) => {
    const bl = p.width === 4 ? rowsPerBlock(p.cfg.columns) : 1;
    return [
      Math.ceil((p.width === 4 ? bl * p.cfg.columns / 4 : p.cfg.columns) / WG),
      lossChunks(p.rowEnd - p.rowStart, p.rowsPerChunk),
      1,
    ];
  },
});
