/**
 * The fused sigmoid-family loss step (bce, eqlv2, eql, focal, efl,
 * federated): one pass over the logits computes each element's weight,
 * loss and d loss / d logit, writes the gradient (and optionally the
 * weights), and leaves per-(row chunk, column) partial sums of the loss and
 * of the positive/negative gradient magnitudes for `lossColumnsKernel`.
 * The layout (vec4s over blocks of rows, one invocation per 4 elements,
 * per-column constants such as EQL v2's weights from the state before the
 * step computed once) is the skeleton of `row_blocks.ts`.
 */
import { defineKernel, f32 } from "../kernel.ts";
import type { SigmoidConfig } from "../../losses/sigmoid_config.ts";
import { sigmoidPartsWgsl } from "./_wgsl.ts";
import { fusedPassWgsl, rowBlockDispatch, type RowRange, vecTypes } from "./row_blocks.ts";

export interface SigmoidFusedParams extends RowRange {
  cfg: Pick<SigmoidConfig, "kind" | "numClasses" | "columns" | "gamma" | "mu" | "alpha" | "s">;
  /** A multiple of 4, so that a chunk is whole blocks of rows. */
  rowsPerChunk: number;
  writeWeights: boolean;
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

function fusedWgsl(p: SigmoidFusedParams): string {
  const { cfg, width } = p;
  const { F, B, splat } = vecTypes(width);
  const zero = splat("0.0");
  return fusedPassWgsl({
    columns: cfg.columns,
    numClasses: cfg.numClasses,
    range: p,
    rowsPerChunk: p.rowsPerChunk,
    writeWeights: p.writeWeights,
    decls: `struct U { scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<${F}>;
@group(0) @binding(1) var<storage, read> L: array<i32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<f32>;
@group(0) @binding(4) var<storage, read_write> G: array<${F}>;
@group(0) @binding(5) var<storage, read_write> W: array<${F}>;
@group(0) @binding(6) var<storage, read_write> Part: array<f32>;
@group(0) @binding(7) var<storage, read_write> Flag: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> u: U;`,
    setup: `// Keeps every binding in the layout whatever the kind uses.
  if (jv == 0xffffffffu) { W[0] = ${F}(S[0] + P[0]); }
  ${columnSetup(cfg, width)}`,
    body: `let is_t: ${B} = lab == ji;
    let t = select(${zero}, ${splat("1.0")}, is_t);
    ${sigmoidPartsWgsl("x", zero)}
    let bce = max(x, ${zero}) - x * t + sz;
    let d = select(sx, -sy, is_t);
    ${elementBody(cfg, width)}
    let grad = u.scale * g;`,
  });
}

export const sigmoidFusedKernel = defineKernel<SigmoidFusedParams>({
  name: "loss_sigmoid_fused",
  wgsl: fusedWgsl,
  dispatch: (p) => rowBlockDispatch(p.cfg.columns, p, p.rowsPerChunk),
});
