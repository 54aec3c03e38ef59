// The fused sigmoid-family step on the skeleton of `row_blocks.ts`; each loss supplies WGSL fragments.
import { defineKernel } from "../kernel.ts";
import { sigmoidPartsWgsl } from "./_wgsl.ts";
import { fusedPassWgsl, rowBlockDispatch, type RowRange, vecTypes } from "./row_blocks.ts";

/**
 * A sigmoid loss's part of the fused pass; it may read S (state [pos_grad, neg_grad, ratio], before the step), P
 * (per-column inputs from the host) and `u.scale` (loss weight / avgFactor).
 */
export interface SigmoidFragments {
  setup: string;
  /**
   * Per element: from `x`, `lab`, `is_t`, `t`, the sigmoid parts `sx`, `sy`, `sz`,
   * `bce` = BCE(x, t) and `d` = sigma(x) - t, defines `w` (the weight), `l` (the loss),
   * `g` (d loss / d x before `u.scale`) and `st` (the statistic's magnitude).
   */
  element: string;
}

export interface SigmoidFusedParams extends RowRange, SigmoidFragments {
  numClasses: number;
  columns: number;
  /** A multiple of 4, so that a chunk is whole blocks of rows. */
  rowsPerChunk: number;
  writeWeights: boolean;
}

/** The element fragment of a loss that weights each element's BCE by `weight`, a WGSL expression. */
export function weightedBceWgsl(weight: string): string {
  return `let w = ${weight};
    let l = w * bce;
    let g = w * d;
    let st = abs(g);`;
}

function fusedWgsl(p: SigmoidFusedParams): string {
  const { F, B, splat } = vecTypes(p.width);
  const zero = splat("0.0");
  return fusedPassWgsl({
    columns: p.columns,
    numClasses: p.numClasses,
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
  ${p.setup}`,
    body: `let is_t: ${B} = lab == ji;
    let t = select(${zero}, ${splat("1.0")}, is_t);
    ${sigmoidPartsWgsl("x", zero)}
    let bce = max(x, ${zero}) - x * t + sz;
    let d = select(sx, -sy, is_t);
    ${p.element}
    let grad = u.scale * g;`,
  });
}

export const sigmoidFusedKernel = defineKernel<SigmoidFusedParams>({
  name: "loss_sigmoid_fused",
  wgsl: fusedWgsl,
  dispatch: (p) => rowBlockDispatch(p.columns, p, p.rowsPerChunk),
});
