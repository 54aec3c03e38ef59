/**
 * Softmax-family kernels: a row pass leaves each row's constants, a fused pass (`row_blocks.ts`) writes gradient
 * and weights and sums the partials; each loss supplies fragments (`rowWalk`, `rowConstant`). Both bind X, L, Cum
 * (Seesaw's counts, or a rule's `stepInputs`) and `u.scale`; the fused pass also Misc and R.
 */
import { defineKernel, flatIndex, grid1d } from "../kernel.ts";
import { LOG1P_WGSL } from "./_wgsl.ts";
import { blockRows, fusedPassWgsl, pickRow, rowBlockDispatch, type RowRange, vecTypes } from "./row_blocks.ts";

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

const ROW_WG = 64;

export interface SoftmaxRowParams {
  rows: number;
  numClasses: number;
  columns: number;
  decls: string;
  /**
   * The row's work: from `i` (the row), `o` (its first element), `sh` (o % 4) and `lab`
   * (its label clamped to [0, C]), writes the row's constants to R (vec4s).
   */
  body: string;
}

/**
 * WGSL of an online max, sum of exponentials and sum without column `lab` over a row (`m`, `sum`, `so`); rows not
 * starting on a vec4 slide a window over two aligned loads.
 */
export function rowWalk(
  layout: { columns: number; n: number },
  v: { m: string; sum: string; so: string; f: string; lab: string },
): string {
  const { columns: cols, n } = layout;
  const { m, sum, so, f, lab } = v;
  const aligned = cols % 4 === 0, masked = !aligned || n % 4 !== 0;
  const window = rowWindow(cols, `prev_${m}`);
  return `var ${m} = -3.4e38; var ${sum} = 0.0; var ${so} = 0.0;
  ${window.init}
  for (var q = 0u; q < ${Math.ceil(n / 4)}u; q++) {
    ${window.load}
    let jv = vec4<u32>(q * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
    ${
    masked
      ? `// Values past the row's n (the next row's, or past the buffer) are masked before any arithmetic.
    let valid = jv < vec4<u32>(${n}u);
    let z = select(vec4<f32>(-3.4e38), ${f}, valid);`
      : `let z = ${f};`
  }
    let mn = max(${m}, max(max(z.x, z.y), max(z.z, z.w)));
    let r = exp(${m} - mn);
    let ez = ${masked ? "select(vec4<f32>(0.0), exp(z - vec4<f32>(mn)), valid)" : "exp(z - vec4<f32>(mn))"};
    ${sum} = ${sum} * r + dot(ez, vec4<f32>(1.0));
    ${so} = ${so} * r + dot(ez, select(vec4<f32>(1.0), vec4<f32>(0.0), jv == vec4<u32>(${lab})));
    ${m} = mn;
  }`;
}

export function rowWindow(columns: number, prev: string): { init: string; load: string } {
  if (columns % 4 === 0) return { init: "", load: "let x = X[o / 4u + q];" };
  return {
    init: `var ${prev} = X[o / 4u];`,
    load: `let cur = X[o / 4u + q + 1u];
    let x = select(select(select(vec4<f32>(${prev}.w, cur.xyz), vec4<f32>(${prev}.zw, cur.xy), sh == 2u),
      vec4<f32>(${prev}.yzw, cur.x), sh == 1u), ${prev}, sh == 0u);
    ${prev} = cur;`,
  };
}

/**
 * The row pass, one invocation per row (one read, no barriers). The sum without the label's term gives the label's
 * gradient -so/s and the loss without cancellation, so a confident row keeps its tiny values in float32.
 */
export const softmaxRowKernel = defineKernel<SoftmaxRowParams>({
  name: "loss_softmax_rows",
  wgsl(p) {
    return `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> Cum: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> R: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> u: U;
${LOG1P_WGSL}
// -log p_label from the label's logit xl, the max m, the sum s and the sum without the label so: where the
// label's term e_l dominates, log(1 + so / e_l) (small, no cancellation); else (m - xl) + log(s), two terms >= 0.
fn nll(xl: f32, m: f32, s: f32, so: f32) -> f32 {
  let el = exp(xl - m);
  return select((m - xl) + log(s), log1p_pos(so / el), so <= el);
}
fn xs(k: u32) -> f32 { return X[k / 4u][k % 4u]; }
${p.decls}
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", ROW_WG)};
  if (i >= ${p.rows}u) { return; }
  // Keeps every binding in the layout whatever the kind uses.
  if (i == 0xffffffffu) { R[0] = vec4<f32>(Cum[0].x + u.scale); }
  let o = i * ${p.columns}u;
  let sh = o % 4u;
  let lab = u32(clamp(L[i], 0, ${p.numClasses}));
  ${p.body}
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, ROW_WG),
});

export interface SoftmaxFusedParams extends RowRange {
  numClasses: number;
  columns: number;
  rowStride: number;
  rowsPerChunk: number;
  writeWeights: boolean;
  setup: string;
  /**
   * Per block, after `labv` (the labels clamped to [0, C]), `is_t` and `t` are set: defines
   * `grad`, `w`, `l` and `st` as `FusedPass.body` does, reading the row constants with `rowConstant`.
   */
  body: string;
}

export function rowConstant(columns: number, width: 1 | 4, h: number, f: string): string {
  return pickRow((r) => `r${r}_${h}.${f}`, width, blockRows(columns, width), "vec4<f32>");
}

export const softmaxFusedKernel = defineKernel<SoftmaxFusedParams>({
  name: "loss_softmax_fused",
  wgsl(p) {
    const { columns: cols, numClasses: c, width } = p;
    const { F, I, splat } = vecTypes(width);
    const zero = splat("0.0"), one = splat("1.0");
    const bl = blockRows(cols, width);
    const stride = p.rowStride / 4;
    // The constants of each row of the block (the same for the whole workgroup), then each component's.
    const loads = Array.from(
      { length: bl },
      (_, r) =>
        Array.from({ length: stride }, (_, h) => `let r${r}_${h} = R[(i0 + ${r}u) * ${stride}u + ${h}u];`).join(" "),
    ).join("\n    ");
    return fusedPassWgsl({
      columns: cols,
      numClasses: c,
      range: p,
      rowsPerChunk: p.rowsPerChunk,
      writeWeights: p.writeWeights,
      decls: `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<${F}>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> Cum: array<f32>;
@group(0) @binding(3) var<storage, read> Misc: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> G: array<${F}>;
@group(0) @binding(6) var<storage, read_write> W: array<${F}>;
@group(0) @binding(7) var<storage, read_write> Part: array<f32>;
@group(0) @binding(8) var<storage, read_write> Flag: array<atomic<u32>>;
@group(0) @binding(9) var<uniform> u: U;`,
      setup: `// Keeps every binding in the layout whatever the kind uses.
  if (jv == 0xffffffffu) { W[0] = ${F}(Cum[0] + Misc[0] + u.scale); }
  ${p.setup}`,
      body: `${loads}
    let labv = clamp(lab, ${I}(0), ${I}(${c}));
    let is_t = labv == ji;
    let t = select(${zero}, ${one}, is_t);
    ${p.body}`,
    });
  },
  dispatch: (p) => rowBlockDispatch(p.columns, p, p.rowsPerChunk),
});
