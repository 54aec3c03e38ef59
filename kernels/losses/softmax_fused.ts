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

/** Rows per workgroup of the row pass, one invocation per row. */
const ROW_WG = 64;

/** Floats of per-row statistics the row pass leaves for the fused pass: 4 (ce), 12 (seesaw). */
export function softmaxRowStride(kind: "ce" | "seesaw"): number {
  return kind === "ce" ? 4 : 12;
}

/** Columns per invocation of the fused pass: 4 where a row is a whole number of vec4s, else 1. */
export function softmaxWidth(columns: number): 1 | 4 {
  return columns % 4 === 0 ? 4 : 1;
}

/** WGSL of `xs(k)`, the logit at flat index k, from X declared with `width` floats per element. */
function scalarRead(width: 1 | 4): string {
  return width === 4 ? "fn xs(k: u32) -> f32 { return X[k / 4u][k % 4u]; }" : "fn xs(k: u32) -> f32 { return X[k]; }";
}

/**
 * The row pass: one invocation per row walks it once with an online max and
 * sum of exponentials (vec4 loads where the row allows), so a row costs one
 * read and no workgroup barriers, and writes the row's softmax constants.
 * ce: (max, sum). Seesaw: the classes' (max m1, sum s1), the label's
 * probability self_p and count n_self, then a second walk over the
 * mitigated/compensated logits z for (m2, s2), and the objectness gradient
 * and loss of the row.
 */
export const softmaxRowKernel = defineKernel<SoftmaxKernelParams>({
  name: "loss_softmax_rows",
  wgsl(p) {
    const { columns: cols, numClasses: c, rows } = p;
    const n = p.kind === "ce" ? cols : c;
    // Seesaw's C class columns and C + 2 columns are never both whole vec4s.
    const w = p.kind === "ce" ? softmaxWidth(cols) : 1;
    // Online max/sum over the row's first n logits, through f(x) (vec4 or scalar).
    const walk = (m: string, sum: string, f: (x: string, j: string) => string) =>
      w === 4
        ? `var ${m} = -3.4e38; var ${sum} = 0.0;
  for (var q = 0u; q < ${n / 4}u; q++) {
    let z = ${f(`X[o / 4u + q]`, "(vec4<u32>(q * 4u) + vec4<u32>(0u, 1u, 2u, 3u))")};
    let mn = max(${m}, max(max(z.x, z.y), max(z.z, z.w)));
    ${sum} = ${sum} * exp(${m} - mn) + dot(exp(z - vec4<f32>(mn)), vec4<f32>(1.0));
    ${m} = mn;
  }`
        : `var ${m} = -3.4e38; var ${sum} = 0.0;
  for (var j = 0u; j < ${n}u; j++) {
    let z = ${f(`X[o + j]`, "j")};
    let mn = max(${m}, z);
    ${sum} = ${sum} * exp(${m} - mn) + exp(z - mn);
    ${m} = mn;
  }`;
    const ce = `${walk("m", "s", (x) => x)}
  R[i] = vec4<f32>(m, s, 0.0, 0.0);`;
    // z_j = x_j + p log(ratio_j) [ratio < 1] + q log(comp_j) [comp > 1], z_label = x_label.
    const zlogit = (x: string, j: string) => `zlogit(${x}, ${j}, labc, nself, self_p, m1, s1)`;
    const seesaw = `let labc = min(lab, ${c - 1}u);
  ${walk("m1", "s1", (x) => x)}
  let self_p = max(exp(xs(o + labc) - m1) / s1, ${f32(p.eps)});
  let nself = max(Cum[labc], 1.0);
  ${walk("m2", "s2", zlogit)}
  let o0 = xs(o + ${c}u); let o1 = xs(o + ${c + 1}u);
  let d = o0 - o1;
  let e = exp(-abs(d));
  let inv = 1.0 / (1.0 + e);
  let y = e / (2.0 + e);
  let zz = y * y;
  let lg = 2.0 * y * (1.0 + zz * (0.33333334 + zz * (0.2 + zz * (0.14285715 + zz * (0.11111111 + zz * (0.09090909 +
    zz * (0.07692308 + zz * 0.06666667)))))));
  let pobj = select(e * inv, inv, d >= 0.0);
  let pbg = select(inv, e * inv, d >= 0.0);
  let bg = select(0.0, 1.0, lab == ${c}u);
  // 2-way cross-entropy = softplus of the other logit minus the target's.
  let obj = max(select(o1 - o0, o0 - o1, lab == ${c}u), 0.0) + lg;
  R[3u * i] = vec4<f32>(m1, s1, self_p, nself);
  R[3u * i + 1u] = vec4<f32>(m2, s2, u.scale * (pobj - (1.0 - bg)), u.scale * (pbg - bg));
  R[3u * i + 2u] = vec4<f32>(u.scale * obj, 0.0, 0.0, 0.0);`;
    const zfn = `fn zlogit(x: f32, j: u32, lab: u32, nself: f32, self_p: f32, m1: f32, s1: f32) -> f32 {
  let ratio = max(Cum[j], 1.0) / nself;
  let comp = exp(x - m1) / s1 / self_p;
  let z = x + select(0.0, ${f32(p.p)} * log(ratio), ratio < 1.0) + select(0.0, ${f32(p.q)} * log(comp), comp > 1.0);
  return select(z, x, j == lab);
}`;
    return `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<${w === 4 ? "vec4<f32>" : "f32"}>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> Cum: array<f32>;
@group(0) @binding(3) var<storage, read_write> R: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> u: U;
${scalarRead(w)}
${p.kind === "seesaw" ? zfn : ""}
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = ${flatIndex("gid", ROW_WG)};
  if (i >= ${rows}u) { return; }
  // Keeps every binding in the layout whatever the kind uses.
  if (i == 0xffffffffu) { R[0] = vec4<f32>(Cum[0] + u.scale); }
  let o = i * ${cols}u;
  let lab = u32(clamp(L[i], 0, ${c}));
  ${p.kind === "ce" ? ce : seesaw}
}`;
  },
  dispatch: ({ rows }) => grid1d(rows, ROW_WG),
});

/**
 * The fused pass, laid out like the sigmoid losses' (one invocation per
 * column, or four with vec4 loads, over a chunk of rows): from the logits
 * and the row pass's constants it writes d loss / d logits (and the weights
 * where asked), and leaves per-(chunk, column) partial sums of the loss
 * (each row's loss is counted at its label's column, Seesaw's objectness
 * loss at column C) and of the unnormalised positive/negative gradient
 * magnitudes for `lossColumnsKernel`. No branches depend on the data.
 */
export const softmaxFusedKernel = defineKernel<SoftmaxKernelParams & { rowsPerChunk: number; writeWeights: boolean }>(
  {
    name: "loss_softmax_fused",
    wgsl(p) {
      const { columns: cols, numClasses: c, rows, rowsPerChunk: R } = p;
      const width = softmaxWidth(cols), v = width === 4, n = cols / width;
      const F = v ? "vec4<f32>" : "f32", B = v ? "vec4<bool>" : "bool", I = v ? "vec4<i32>" : "i32";
      const Ut = v ? "vec4<u32>" : "u32";
      const sp = (x: string) => (v ? `vec4<f32>(${x})` : x);
      const zero = sp("0.0"), one = sp("1.0");
      const firstBad = v ? "k * 4u + select(select(select(3u, 2u, nf.z), 1u, nf.y), 0u, nf.x)" : "k";
      const at = (q: number) => (v ? `[${q}]` : "");
      const parts: string[] = [];
      for (let q = 0; q < width; q++) {
        parts.push(
          `Part[b + ${q}u] = acc_l${at(q)};`,
          `Part[b + ${cols + q}u] = select(0.0, acc_p${at(q)}, real${at(q)});`,
          `Part[b + ${2 * cols + q}u] = select(0.0, acc_n${at(q)}, real${at(q)});`,
        );
      }
      const ce = {
        setup: "",
        row: `let rs = R[i];
    let lse = rs.x + log(rs.y);`,
        body: `let d = exp(x - rs.x) / rs.y - t;
    let g = u.scale * d;
    let w = ${one};
    let l = select(${zero}, u.scale * (lse - x), is_t);
    let st = abs(d);`,
      };
      const seesaw = {
        setup: `let cum = max(${v ? "vec4<f32>(Cum[jc.x], Cum[jc.y], Cum[jc.z], Cum[jc.w])" : "Cum[jc]"}, ${one});
  let cls_scale = ${f32(p.lossWeight)} / max(Misc[0], 1.0);
  let obj0 = jj == ${Ut}(${c}u);
  let obj1 = jj == ${Ut}(${c + 1}u);`,
        row: `let r0 = R[3u * i]; let r1 = R[3u * i + 1u]; let r2 = R[3u * i + 2u];
    let is_pos = lab < ${c}u;
    let lse = r1.x + log(r1.y);`,
        body: `let ratio = cum / r0.w;
    let comp = exp(x - r0.x) / r0.y / r0.z;
    let z = select(x + select(${zero}, ${f32(p.p)} * log(ratio), ratio < ${one}) + select(${zero}, ${
          f32(p.q)
        } * log(comp), comp > ${one}), x, is_t);
    let d = select(${zero}, exp(z - r1.x) / r1.y - t, is_pos);
    let g = select(select(cls_scale * d, ${sp("r1.z")}, obj0), ${sp("r1.w")}, obj1);
    let w = select(select(exp(z - x), ${one}, !${v ? `vec4<bool>(is_pos)` : "is_pos"}), ${one}, obj0 | obj1);
    let l = select(select(${zero}, cls_scale * (lse - x), is_t & ${v ? "vec4<bool>(is_pos)" : "is_pos"}), ${
          sp("r2.x")
        }, obj0);
    let st = abs(d);`,
      };
      const k = p.kind === "ce" ? ce : seesaw;
      return `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<${F}>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> Cum: array<f32>;
@group(0) @binding(3) var<storage, read> Misc: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> G: array<${F}>;
@group(0) @binding(6) var<storage, read_write> W: array<${F}>;
@group(0) @binding(7) var<storage, read_write> Part: array<f32>;
@group(0) @binding(8) var<storage, read_write> Flag: array<atomic<u32>>;
@group(0) @binding(9) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let jv = gid.x;
  // The row chunk, from the workgroup id so that the compiler sees it uniform (row loads become one load).
  let chunk = wid.y;
  if (jv >= ${n}u) { return; }
  // Keeps every binding in the layout whatever the kind uses.
  if (jv == 0xffffffffu) { W[0] = ${F}(Cum[0] + Misc[0] + u.scale); }
  let j0 = jv * ${width}u;
  let jj = ${v ? "vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u)" : "j0"};
  let real = jj < ${Ut}(${c}u);
  let jc = min(jj, ${Ut}(${c - 1}u));
  let ji = ${I}(jj);
  ${k.setup}
  var acc_l = ${zero}; var acc_p = ${zero}; var acc_n = ${zero};
  var bad = 0xffffffffu;
  var bad_label = 0xffffffffu;
  let i1 = min(chunk * ${R}u + ${R}u, ${rows}u);
  for (var i = chunk * ${R}u; i < i1; i++) {
    let k = i * ${n}u + jv;
    let x = X[k];
    let lab_raw = L[i];
    bad_label = select(bad_label, min(bad_label, i), lab_raw < 0 || lab_raw > ${c});
    let lab = u32(clamp(lab_raw, 0, ${c}));
    ${k.row}
    let nf = (bitcast<${Ut}>(x) & ${Ut}(0x7f800000u)) == ${Ut}(0x7f800000u);
    bad = select(bad, min(bad, ${firstBad}), any(nf));
    let is_t: ${B} = ${I}(i32(lab)) == ji;
    let t = select(${zero}, ${one}, is_t);
    ${k.body}
    acc_l += l;
    acc_p += select(${zero}, st, is_t);
    acc_n += select(st, ${zero}, is_t);
    G[k] = g;
    ${p.writeWeights ? "W[k] = w;" : ""}
  }
  if (bad != 0xffffffffu) { atomicMin(&Flag[0], bad); }
  if (jv == 0u && bad_label != 0xffffffffu) { atomicMin(&Flag[1], bad_label); }
  let b = chunk * ${3 * cols}u + j0;
  ${parts.join("\n  ")}
}`;
    },
    dispatch: ({ columns, rows, rowsPerChunk }) => [
      Math.ceil(columns / softmaxWidth(columns) / WG),
      Math.max(1, Math.ceil(rows / rowsPerChunk)),
      1,
    ],
  },
);
