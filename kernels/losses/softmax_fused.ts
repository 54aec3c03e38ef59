/**
 * Softmax-family loss kernels (ce, seesaw). `seesawCountKernel` adds the
 * batch's labels to the cumulative counts before the loss and stores the
 * number of foreground rows; `softmaxRowKernel` (one invocation per row)
 * leaves each row's softmax constants; `softmaxFusedKernel` (one invocation
 * per column or vec4 of columns) writes d loss / d logits and the weights and
 * sums the loss and the per-category gradient magnitudes into the partials
 * that `lossColumnsKernel` reduces.
 */
import { defineKernel, f32, flatIndex, grid1d } from "../kernel.ts";
import { LOG1P_WGSL, sigmoidPartsWgsl } from "./_wgsl.ts";
import { blockRows, fusedPassWgsl, pickRow, rowBlockDispatch, type RowRange, vecTypes } from "./row_blocks.ts";

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

/** Rows per workgroup of the row pass, one invocation per row. */
const ROW_WG = 64;

/** Floats of per-row constants the row pass leaves for the fused pass: 4 (ce), 12 (seesaw). */
export function softmaxRowStride(kind: "ce" | "seesaw"): number {
  return kind === "ce" ? 4 : 12;
}

/**
 * WGSL of Seesaw's z_j = x_j + p log(ratio_j) [ratio_j < 1] + q log(comp_j) [comp_j > 1]
 * (z_label = x_label), from log(max(cum_j, 1)) `lcum`, the row's log(n_self) `lns` and
 * `lc0` = m1 + log(s1) + log(self_p), so that log(comp_j) = x_j - lc0: one exp per element
 * fewer than exp-then-log, and no division. Row and fused passes use the same text.
 */
function seesawZ(p: SoftmaxKernelParams, zero: string, is_t: string): string {
  return `select(x + select(${zero}, ${f32(p.p)} * (lcum - lns), lcum < lns) + select(${zero}, ${
    f32(p.q)
  } * (x - lc0), x > lc0), x, ${is_t})`;
}

/**
 * The row pass: one invocation per row walks it with an online max and sum
 * of exponentials (vec4 loads where a row is whole vec4s), so a row costs
 * one read and no workgroup barriers, and leaves the row's constants. The
 * sum without the label's term (`so`) gives the label's gradient -so/s and
 * the row's loss log1p(so / e_label) without cancellation, so a confident
 * row keeps its tiny gradient and loss in float32.
 * ce: (max m, sum s, so, loss). Seesaw: a walk over the classes for (m1,
 * s1), the label's probability and count, then a walk over z for (m2, s2,
 * so), the classes' loss, and the objectness gradient and loss of the row.
 */
export const softmaxRowKernel = defineKernel<SoftmaxKernelParams>({
  name: "loss_softmax_rows",
  wgsl(p) {
    const { columns: cols, numClasses: c, rows } = p;
    const n = p.kind === "ce" ? cols : c;
    // Rows of whole vec4s are read as such; other rows start at o % 4 inside a vec4, and a
    // sliding window over two aligned loads gives 4 consecutive values per load all the same.
    const aligned = cols % 4 === 0, masked = !aligned || n % 4 !== 0;
    const window = (pv: string) =>
      aligned ? "let x = X[o / 4u + q];" : `let cur = X[o / 4u + q + 1u];
    let x = select(select(select(vec4<f32>(${pv}.w, cur.xyz), vec4<f32>(${pv}.zw, cur.xy), sh == 2u),
      vec4<f32>(${pv}.yzw, cur.x), sh == 1u), ${pv}, sh == 0u);
    ${pv} = cur;`;
    // Online max m, sum s and sum without column \`lab\` (so) over the row's first n values of f(x, jv).
    const walk = (m: string, sum: string, so: string, f: string, lab: string) =>
      `var ${m} = -3.4e38; var ${sum} = 0.0; var ${so} = 0.0;
  ${aligned ? "" : `var prev_${m} = X[o / 4u];`}
  for (var q = 0u; q < ${Math.ceil(n / 4)}u; q++) {
    ${window(`prev_${m}`)}
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
    const ce = `${walk("m", "s", "so", "x", "lab")}
  R[i] = vec4<f32>(m, s, so, nll(xs(o + lab), m, s, so));`;
    // Seesaw's z per vec4 of classes: Cum's vec4 q holds the counts of classes 4q .. 4q + 3.
    const z4 = `seesaw_z(x, log(max(Cum[q], vec4<f32>(1.0))), jv == vec4<u32>(labc))`;
    const seesaw = `let labc = min(lab, ${c - 1}u);
  ${walk("m1", "s1", "so1", "x", "labc")}
  let xl = xs(o + labc);
  let self_p = max(exp(xl - m1) / s1, ${f32(p.eps)});
  let lns_r = log(max(Cum[labc / 4u][labc % 4u], 1.0));
  let lc0_r = m1 + log(s1) + log(self_p);
  ${walk("m2", "s2", "so2", z4, "labc")}
  let d = xs(o + ${c}u) - xs(o + ${c + 1}u);
  ${sigmoidPartsWgsl("d", "0.0")}
  let bg = lab == ${c}u;
  // p - target without cancellation: p_object - 1 = -p_background and p_background - 1 = -p_object.
  let g_obj = select(-sy, sx, bg);
  let g_bg = select(sy, -sx, bg);
  // 2-way cross-entropy = softplus of the other logit minus the target's.
  let obj = max(select(-d, d, bg), 0.0) + sz;
  R[3u * i] = vec4<f32>(lc0_r, lns_r, m2, s2);
  R[3u * i + 1u] = vec4<f32>(so2, u.scale * g_obj, u.scale * g_bg, u.scale * obj);
  // The label's z is its logit.
  R[3u * i + 2u] = vec4<f32>(nll(xl, m2, s2, so2), 0.0, 0.0, 0.0);`;
    // The per-row constants reach seesaw_z through module-scope privates, as WGSL functions see no locals.
    const zfn = `var<private> lns: vec4<f32>;
var<private> lc0: vec4<f32>;
fn seesaw_z(x: vec4<f32>, lcum: vec4<f32>, is_t: vec4<bool>) -> vec4<f32> {
  return ${seesawZ(p, "vec4<f32>(0.0)", "is_t")};
}`;
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
${p.kind === "seesaw" ? zfn : ""}
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", ROW_WG)};
  if (i >= ${rows}u) { return; }
  // Keeps every binding in the layout whatever the kind uses.
  if (i == 0xffffffffu) { R[0] = vec4<f32>(Cum[0].x + u.scale); }
  let o = i * ${cols}u;
  let sh = o % 4u;
  let lab = u32(clamp(L[i], 0, ${c}));
  ${
      p.kind === "ce" ? ce : seesaw.replace(
        `${walk("m2", "s2", "so2", z4, "labc")}`,
        `lns = vec4<f32>(lns_r);
  lc0 = vec4<f32>(lc0_r);
  ${walk("m2", "s2", "so2", z4, "labc")}`,
      )
    }
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, ROW_WG),
});

export interface SoftmaxFusedParams extends SoftmaxKernelParams, RowRange {
  rowsPerChunk: number;
  writeWeights: boolean;
}

/**
 * The fused pass, on the skeleton of `row_blocks.ts`: from the logits and the
 * row pass's constants it writes d loss / d logits (and the weights where
 * asked) and leaves partial sums of the loss (each row's loss counted at its
 * label's column, Seesaw's objectness loss at column C) and of the
 * unnormalised positive/negative gradient magnitudes.
 */
export const softmaxFusedKernel = defineKernel<SoftmaxFusedParams>({
  name: "loss_softmax_fused",
  wgsl(p) {
    const { columns: cols, numClasses: c, width } = p;
    const { F, I, U, splat, gather } = vecTypes(width);
    const zero = splat("0.0"), one = splat("1.0");
    const bl = blockRows(cols, width);
    const stride = softmaxRowStride(p.kind) / 4;
    // The constants of each row of the block (the same for the whole workgroup), then each component's.
    const loads = Array.from(
      { length: bl },
      (_, r) =>
        Array.from({ length: stride }, (_, h) => `let r${r}_${h} = R[(i0 + ${r}u) * ${stride}u + ${h}u];`).join(" "),
    ).join("\n    ");
    const field = (h: number, f: string) => pickRow((r) => `r${r}_${h}.${f}`, width, bl, "vec4<f32>");
    const common = `${loads}
    let labv = clamp(lab, ${I}(0), ${I}(${c}));
    let is_t = labv == ji;
    let t = select(${zero}, ${one}, is_t);`;
    const ce = `${common}
    let m = ${field(0, "x")};
    let s = ${field(0, "y")};
    // p_j - t_j; at the label, -(sum of the others) / s.
    let d = select(exp(x - m), -${field(0, "z")}, is_t) / s;
    let grad = u.scale * d;
    let w = ${one};
    let l = select(${zero}, u.scale * ${field(0, "w")}, is_t);
    let st = abs(d);`;
    const seesaw = `${common}
    let is_pos = labv < ${I}(${c});
    let lc0 = ${field(0, "x")};
    let lns = ${field(0, "y")};
    let m2 = ${field(0, "z")};
    let s2 = ${field(0, "w")};
    let z = ${seesawZ(p, zero, "is_t")};
    let d = select(${zero}, select(exp(z - m2), -${field(1, "x")}, is_t) / s2, is_pos);
    let grad = select(select(cls_scale * d, ${field(1, "y")}, obj0), ${field(1, "z")}, obj1);
    let w = select(select(exp(z - x), ${one}, !is_pos), ${one}, obj0 | obj1);
    let l = select(select(${zero}, cls_scale * ${field(2, "x")}, is_t & is_pos), ${field(1, "w")}, obj0);
    let st = abs(d);`;
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
  ${
        p.kind === "ce" ? "" : `let lcum = log(max(${gather("Cum", "jc")}, ${one}));
  let cls_scale = ${f32(p.lossWeight)} / max(Misc[0], 1.0);
  let obj0 = jj == ${U}(${c}u);
  let obj1 = jj == ${U}(${c + 1}u);`
      }`,
      body: p.kind === "ce" ? ce : seesaw,
    });
  },
  dispatch: (p) => rowBlockDispatch(p.columns, p, p.rowsPerChunk),
});
