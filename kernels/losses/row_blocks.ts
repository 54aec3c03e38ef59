/**
 * The skeleton of the fused loss passes: an invocation owns four elements of a block of rows (the fewest rows that
 * are whole vec4s), the same (row, column) pairs in every block, so its column constants are computed once and its
 * sums stay its own: no float atomics, deterministic results. vec4 accesses and branch-free element math are what
 * llvmpipe rewards (each storage access loops over the lanes; an `if` costs a mask update per element).
 */

const LOSS_WG = 64;

function lossChunks(rows: number, rowsPerChunk: number): number {
  return Math.max(1, Math.ceil(rows / rowsPerChunk));
}

function rowsPerBlock(columns: number): 1 | 2 | 4 {
  return columns % 4 === 0 ? 1 : columns % 2 === 0 ? 2 : 4;
}

export function blockRows(columns: number, width: 1 | 4): number {
  return width === 4 ? rowsPerBlock(columns) : 1;
}

export interface RowRange {
  rowStart: number;
  rowEnd: number;
  width: 1 | 4;
  slotStart: number;
}

/** The vec4 dispatch over whole blocks and the one-column one over the 0-3 rows after them. */
export function rowBlockPlan<B extends { rowsPerChunk: number }>(
  base: B,
  columns: number,
  rows: number,
): { dispatches: (B & RowRange)[]; slots: number } {
  const R = base.rowsPerChunk;
  if (R % 4 !== 0) throw new Error(`rowsPerChunk must be a multiple of 4, got ${R}`);
  const bl = rowsPerBlock(columns), whole = rows - rows % bl;
  const dispatches: (B & RowRange)[] = [];
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

export function rowBlockDispatch(columns: number, range: RowRange, rowsPerChunk: number): [number, number, number] {
  const per = blockRows(columns, range.width) * columns / range.width;
  return [Math.ceil(per / LOSS_WG), lossChunks(range.rowEnd - range.rowStart, rowsPerChunk), 1];
}

export function vecTypes(width: 1 | 4) {
  const v = width === 4;
  return {
    F: v ? "vec4<f32>" : "f32",
    B: v ? "vec4<bool>" : "bool",
    I: v ? "vec4<i32>" : "i32",
    U: v ? "vec4<u32>" : "u32",
    splat: (x: string) => (v ? `vec4<f32>(${x})` : x),
    gather: (arr: string, idx: string) =>
      v ? `vec4<f32>(${["x", "y", "z", "w"].map((c) => `${arr}[${idx}.${c}]`).join(", ")})` : `${arr}[${idx}]`,
  };
}

/** `value(r)` of each component's row r in the block, broadcast to `type`. */
export function pickRow(value: (r: number) => string, width: 1 | 4, bl: number, type: string): string {
  if (width === 1) return value(0);
  let pick = `${type}(${value(bl - 1)})`;
  for (let r = bl - 2; r >= 0; r--) pick = `select(${pick}, ${type}(${value(r)}), ro == vec4<u32>(${r}u))`;
  return pick;
}

export interface FusedPass {
  columns: number;
  numClasses: number;
  range: RowRange;
  rowsPerChunk: number;
  writeWeights: boolean;
  /** Module-scope declarations; the skeleton binds X, L (i32), G, W, Part and Flag (atomic u32). */
  decls: string;
  /** Per-invocation constants; `jj` (column of each component), `jc` (jj clamped to C - 1), `real` (jj < C), `ji` (jj as i32) are set. */
  setup: string;
  /**
   * Per block: from `x`, `lab` and `i0`, defines `is_t`, `grad`, `w`, `l` and `st` (the statistic's magnitude).
   */
  body: string;
}

export function fusedPassWgsl(p: FusedPass): string {
  const { columns: cols, numClasses: c, range, rowsPerChunk: R, width } = { ...p, width: p.range.width };
  const v4 = width === 4, bl = blockRows(cols, width);
  // Invocations per block of rows, blocks per chunk, blocks in this dispatch.
  const n = bl * cols / width, perChunk = R / bl, blocks = (range.rowEnd - range.rowStart) / bl;
  const { I, U, splat } = vecTypes(width);
  const zero = splat("0.0");
  const at = (q: number) => (v4 ? `[${q}]` : "");
  // The first non-finite component's flat index: k * 4 + the lowest q whose nf[q] is set.
  const firstBad = v4 ? "k * 4u + select(select(select(3u, 2u, nf.z), 1u, nf.y), 0u, nf.x)" : "k";
  const labels = Array.from({ length: bl }, (_, r) => `let l${r} = L[i0 + ${r}u];`).join(" ");
  const badRows = Array.from({ length: bl }, (_, r) => `select(0xffffffffu, i0 + ${r}u, l${r} < 0 || l${r} > ${c})`);
  const parts: string[] = [];
  for (let q = 0; q < width; q++) {
    // Slot (chunk, row in block) of component q, then column jj[q].
    const b = `(${range.slotStart}u + chunk * ${bl}u + ro${at(q)}) * ${3 * cols}u + jj${at(q)}`;
    parts.push(
      `Part[${b}] = acc_l${at(q)};`,
      `Part[${b} + ${cols}u] = select(0.0, acc_p${at(q)}, real${at(q)});`,
      `Part[${b} + ${2 * cols}u] = select(0.0, acc_n${at(q)}, real${at(q)});`,
    );
  }
  return `${p.decls}
@compute @workgroup_size(${LOSS_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let jv = gid.x;
  // The row chunk: one per workgroup row.
  let chunk = wid.y;
  if (jv >= ${n}u) { return; }
  // Each component's row in the block and column.
  let ev = ${v4 ? "vec4<u32>(jv * 4u) + vec4<u32>(0u, 1u, 2u, 3u)" : "jv"};
  let ro = ev / ${U}(${cols}u);
  let jj = ev % ${U}(${cols}u);
  let real = jj < ${U}(${c}u);
  let jc = min(jj, ${U}(${c - 1}u));
  let ji = ${I}(jj);
  ${p.setup}
  var acc_l = ${zero}; var acc_p = ${zero}; var acc_n = ${zero};
  var bad = 0xffffffffu;
  var bad_label = 0xffffffffu;
  let k1 = min(chunk * ${perChunk}u + ${perChunk}u, ${blocks}u);
  for (var kb = chunk * ${perChunk}u; kb < k1; kb++) {
    let i0 = ${range.rowStart}u + kb * ${bl}u;
    let k = ${range.rowStart * cols / width}u + kb * ${n}u + jv;
    let x = X[k];
    ${labels}
    let lab = ${pickRow((r) => `l${r}`, width, bl, "vec4<i32>")};
    bad_label = min(bad_label, ${badRows.reduceRight((acc, e) => `min(${e}, ${acc})`)});
    let nf = (bitcast<${U}>(x) & ${U}(0x7f800000u)) == ${U}(0x7f800000u);
    bad = select(bad, min(bad, ${firstBad}), any(nf));
    ${p.body}
    acc_l += l;
    acc_p += select(${zero}, st, is_t);
    acc_n += select(st, ${zero}, is_t);
    G[k] = grad;
    ${p.writeWeights ? "W[k] = w;" : ""}
  }
  if (bad != 0xffffffffu) { atomicMin(&Flag[0], bad); }
  if (jv == 0u && bad_label != 0xffffffffu) { atomicMin(&Flag[1], bad_label); }
  ${parts.join("\n  ")}
}`;
}
