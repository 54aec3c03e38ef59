// Focal loss (Lin et al., ICCV 2017): BCE weighted by alpha_t (1 - p_t)^gamma; its element rule is also EFL's.
import { z } from "zod";
import { f32 } from "../kernels/kernel.ts";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { _powg } from "./_math.ts";
import { defineLoss, fraction, lossWeight } from "./loss_definition.ts";
import { sigmoidReference } from "./reference_sigmoid.ts";
import { SigmoidLoss } from "./sigmoid_loss.ts";
import type { Element64, ElementOut64, SigmoidRule } from "./sigmoid_rule.ts";

const params = z.strictObject({
  loss_weight: lossWeight,
  gamma: z.number().min(0).max(20).default(2),
  alpha: fraction.default(0.25),
});

/**
 * The focal element fragment: from the per-column `gj` (gamma) and `wf` (a factor on the
 * loss) of the setup, w = wf alpha_t (1 - p_t)^gamma and its gradient; `st` as given.
 */
export function focalElementWgsl(alpha: number, width: 1 | 4, st: string): string {
  const { splat } = vecTypes(width);
  const one = splat("1.0"), zero = splat("0.0");
  return `let a = select(${splat(f32(1 - alpha))}, ${splat(f32(alpha))}, is_t);
    let pt = select(sy, sx, is_t);
    let m = select(sx, sy, is_t);
    // m^gamma_j, with 0^g = 0 and m^0 = 1 (log2 of 0 is selected away).
    let mg = select(select(exp2(gj * log2(m)), ${zero}, m <= ${zero}), ${one}, gj == ${zero});
    let w = wf * a * mg;
    let l = w * bce;
    let g = wf * select(${one}, ${splat("-1.0")}, is_t) * a * mg * (gj * pt * bce + m);
    let st = ${st};`;
}

/** The focal element in float64, with the statistic |statScale g|: `focalElementWgsl`'s twin. */
export function focal64(
  e: Element64,
  o: { alpha: number; gamma: number; wf: number; statScale: number },
): ElementOut64 {
  const a = e.t ? o.alpha : 1 - o.alpha;
  const pt = e.t ? e.p : 1 - e.p, m = 1 - pt, mg = _powg(m, o.gamma);
  const w = o.wf * a * mg;
  // d/dx of a (1 - p_t)^gamma BCE, signed by the target.
  const g = o.wf * (e.t ? -1 : 1) * a * mg * (o.gamma * pt * e.bce + m);
  return { w, l: w * e.bce, g, stat: Math.abs(o.statScale * g) };
}

function focalRule(p: z.output<typeof params>, numClasses: number): SigmoidRule {
  return {
    name: "focal",
    numClasses,
    columns: numClasses,
    lossWeight: p.loss_weight,
    wgsl(width) {
      const { splat, F } = vecTypes(width);
      return {
        setup: `let gj = ${splat(f32(p.gamma))}; let wf = ${F}(1.0);`,
        element: focalElementWgsl(p.alpha, width, "abs(g)"),
      };
    },
    element64: () => (e) => focal64(e, { alpha: p.alpha, gamma: p.gamma, wf: 1, statScale: 1 }),
  };
}

export const focal = defineLoss({
  name: "focal",
  params,
  create: (p, c) => new SigmoidLoss(focalRule(p, c)),
  reference: (p, c) => sigmoidReference(focalRule(p, c)),
});
