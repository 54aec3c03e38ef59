/**
 * The skeleton shared by the fused loss passes (sigmoid family, softmax
 * family): one invocation owns four elements of a block of rows, with vec4
 * loads and stores, and walks a chunk of blocks; a one-column variant takes
 * the rows after the last whole block.
 *
 * A block is the fewest rows whose elements are a whole number of vec4s (1
 * where a row is, 2 for an even column count, else 4), so an invocation owns
 * the same 4 (row in block, column) pairs in every block: its per-column
 * constants are computed once and its per-column sums stay its own, written
 * to one partial-sum slot per (chunk, row in block) for `lossColumnsKernel`;
 * no float atomics, so results are deterministic. On llvmpipe each storage
 * access is a loop over the SIMD lanes, so 4 elements per access is what
 * makes the pass fast there; the element math has no data-dependent branches
 * for the same reason (an `if` costs a mask update and a test per element).
 */

/** Invocations per workgroup of the fused passes. */
const LOSS_WG = 64;

/** Chunks of `rowsPerChunk` rows in `rows` (at least one). */
function lossChunks(rows: number, rowsPerChunk: number): number {
  return Math.max(1, Math.ceil(rows / rowsPerChunk));
}

/** Rows per block: the fewest rows whose elements are a whole number of vec4s. */
function rowsPerBlock(columns: number): 1 | 2 | 4 {
  return columns % 4 === 0 ? 1 : columns % 2 === 0 ? 2 : 4;
}

/** Rows per block of a dispatch of `width`: `rowsPerBlock(columns)` with vec4s, 1 with one column each. */
export function blockRows(columns: number, width: 1 | 4): number {
  return width === 4 ? rowsPerBlock(columns) : 1;
}

/** The rows [rowStart, rowEnd) of one dispatch, its width (4: blocks of rows, vec4s; 1: one column each) and first slot. */
export interface RowRange {
  rowStart: number;
  rowEnd: number;
  width: 1 | 4;
  slotStart: number;
}

/**
 * The dispatches of one step, each `base` with its row range: the vec4 kernel over the whole
 * blocks, the one-column kernel over the 0-3 rows after them; `slots` partial sums in all.
 */
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

/** Workgroups of a dispatch over `range`. */
export function rowBlockDispatch(columns: number, range: RowRange, rowsPerChunk: number): [number, number, number] {
  const per = blockRows(columns, range.width) * columns / range.width;
  return [Math.ceil(per / LOSS_WG), lossChunks(range.rowEnd - range.rowStart, rowsPerChunk), 1];
}

/** WGSL types and helpers for `width` elements per invocation (vec4 or scalar). */
export function vecTypes(width: 1 | 4) {
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

/**
 * WGSL of a value per component: `value(r)` of the component's row r in the block (a
 * scalar expression), broadcast to `type` (the vector type; for width 1, the value of row 0).
 */
export function pickRow(value: (r: number) => string, width: 1 | 4, bl: number, type: string): string {
  if (width === 1) return value(0);
  let pick = `${type}(${value(bl - 1)})`;
  for (let r = bl - 2; r >= 0; r--) pick = `select(${pick}, ${type}(${value(r)}), ro == vec4<u32>(${r}u))`;
  return pick;
}

export interface FusedPass {
  columns: number;
  /** Categories C: columns j >= C get no statistics, labels must be in [0, C]. */
  numClasses: number;
  range: RowRange;
  rowsPerChunk: number;
  writeWeights: boolean;
  /**
   * Declarations before main. The skeleton uses X (logits) and L (labels, i32) read-only,
   * G and W (gradient and weights, of the float type), Part (f32) and Flag (atomic u32)
   * read-write, under these names.
   */
  decls: string;
  /** Per-invocation constants; `jj` (column of each component), `jc` (jj clamped to C - 1), `real` (jj < C), `ji` (jj as i32) are set. */
  setup: string;
  /**
   * Per block: from `x` (the logits), `lab` (each component's label, i32) and `i0` (the
   * block's first row), defines `is_t` (bool per component), `grad` (the gradient stored),
   * `w` (the weight), `l` (the loss counted at this element) and `st` (the magnitude
   * added to the positive or negative statistic).
   */
  body: string;
}

/** The WGSL of a fused pass over one row range. */
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
