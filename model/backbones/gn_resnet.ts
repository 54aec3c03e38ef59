/** Small group-norm ResNet (`tiny`, `small`): strided 3x3 stem, basic blocks halving the size, torchvision names. */
import { z } from "zod";
import { conv, convGnRelu, gn } from "../layers.ts";
import type { ParamStore } from "../params.ts";
import type { Backbone } from "./backbone.ts";
import { add, relu } from "../../tensor/ops.ts";
import type { Tensor } from "../../tensor/tensor.ts";

export const GnResNetConfig = z.strictObject({
  kind: z.literal("gn_resnet"),
  widths: z.array(z.int().positive()).min(2),
  /** Residual blocks per stage (one entry per stage after the stem). */
  blocks: z.array(z.int().positive()).min(1),
  /** Group-norm groups (every width must divide). */
  gnGroups: z.int().positive().default(4),
  /** Stages whose outputs the neck takes, 1-based (stage s has stride 2^(s+1)). */
  returnLayers: z.array(z.int().positive()).min(1),
});
export type GnResNetConfig = z.infer<typeof GnResNetConfig>;

export class GnResNet implements Backbone {
  readonly strides: number[];
  readonly channels: number[];

  constructor(readonly cfg: GnResNetConfig) {
    if (cfg.widths.length !== cfg.blocks.length + 1) {
      throw new Error(`gn_resnet needs ${cfg.blocks.length + 1} widths for ${cfg.blocks.length} stages`);
    }
    if (cfg.returnLayers.some((l) => l > cfg.blocks.length)) {
      throw new Error(`gn_resnet has ${cfg.blocks.length} stages, cannot return [${cfg.returnLayers}]`);
    }
    this.strides = cfg.returnLayers.map((l) => 2 ** (l + 1));
    this.channels = cfg.returnLayers.map((l) => cfg.widths[l]);
  }

  forward(ps: ParamStore, images: Tensor): Tensor[] {
    const p = "backbone.body", w = this.cfg.widths, g = this.cfg.gnGroups;
    let x = convGnRelu(ps, `${p}.conv1`, `${p}.gn1`, images, { cin: 3, cout: w[0], k: 3, stride: 2 }, g);
    const outs: Tensor[] = [];
    this.cfg.blocks.forEach((n, s) => {
      for (let b = 0; b < n; b++) {
        const cin = b === 0 ? w[s] : w[s + 1];
        x = this.#block(ps, `${p}.layer${s + 1}.${b}`, x, cin, w[s + 1], b === 0 ? 2 : 1);
      }
      if (this.cfg.returnLayers.includes(s + 1)) outs.push(x);
    });
    return outs;
  }

  #block(ps: ParamStore, name: string, x: Tensor, cin: number, cout: number, stride: number): Tensor {
    const g = this.cfg.gnGroups;
    const h = convGnRelu(ps, `${name}.conv1`, `${name}.gn1`, x, { cin, cout, k: 3, stride }, g);
    const y = gn(ps, `${name}.gn2`, conv(ps, `${name}.conv2`, h, { cin: cout, cout, k: 3 }), cout, g);
    const skip = stride === 1 && cin === cout
      ? x
      : gn(ps, `${name}.downsample.1`, conv(ps, `${name}.downsample.0`, x, { cin, cout, k: 1, stride }), cout, g);
    return relu(add(y, skip));
  }
}
