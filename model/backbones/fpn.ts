/**
 * torchvision's FeaturePyramidNetwork + LastLevelMaxPool: 1x1 laterals, nearest 2x top-down sums, 3x3
 * outputs; parameters `backbone.fpn.inner_blocks.i.0.*` and `backbone.fpn.layer_blocks.i.0.*`.
 */
import { z } from "zod";
import { conv } from "../layers.ts";
import type { ParamStore } from "../params.ts";
import { isGradEnabled } from "../../tensor/autograd.ts";
import { add } from "../../tensor/ops.ts";
import { maxPool2d, upsampleNearest2x } from "../../tensor/ops_nn.ts";
import type { Tensor } from "../../tensor/tensor.ts";

export const FpnConfig = z.strictObject({
  channels: z.int().positive().default(256),
  /** Add a level by 1x1 max pooling with stride 2 of the coarsest one (P6 over P2-P5). */
  extraPool: z.boolean().default(true),
});
export type FpnConfig = z.infer<typeof FpnConfig>;

/** The pyramid over backbone features `c` (finest first, each half the previous), levels finest first. */
export function fpn(ps: ParamStore, cfg: FpnConfig, c: Tensor[], inChannels: readonly number[]): Tensor[] {
  const F = cfg.channels, n = c.length, p = "backbone.fpn";
  // torchvision initialises these Kaiming-uniform with a = 1: bound sqrt(3 / fan-in), biases 0.
  const uniform = (fanIn: number) => ({ kind: "uniform" as const, bound: Math.sqrt(3 / fanIn) });
  const lateral = (i: number) =>
    conv(ps, `${p}.inner_blocks.${i}.0`, c[i], { cin: inChannels[i], cout: F, k: 1, bias: true, init: uniform(F) });
  const output = (i: number, x: Tensor) =>
    conv(ps, `${p}.layer_blocks.${i}.0`, x, { cin: F, cout: F, k: 3, bias: true, init: uniform(9 * F) });
  const out: Tensor[] = new Array(n);
  const free = (...ts: Tensor[]) => isGradEnabled() || ts.forEach((t) => t.dispose());
  let inner = lateral(n - 1);
  out[n - 1] = output(n - 1, inner);
  for (let i = n - 2; i >= 0; i--) {
    const [h, w] = c[i].shape.slice(2), [hc, wc] = inner.shape.slice(2);
    if (h !== 2 * hc || w !== 2 * wc) {
      throw new Error(`FPN level ${i} is ${h}x${w}, not twice ${hc}x${wc}: pad the images to the largest stride`);
    }
    const lat = lateral(i), up = upsampleNearest2x(inner), prev = inner;
    inner = add(lat, up);
    free(lat, up, prev);
    out[i] = output(i, inner);
  }
  free(inner);
  if (cfg.extraPool) out.push(maxPool2d(out[n - 1], 1, { stride: 2 }));
  return out;
}
