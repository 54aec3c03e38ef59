/**
 * A ResNet-style backbone: a strided stem, then stages of basic residual
 * blocks that each halve the resolution, optionally topped by a two-level
 * FPN whose finer level is the output. The output stride is 2^(stages).
 */
import type { DetectorConfig } from "./config.ts";
import { conv, convGnRelu, gn } from "./layers.ts";
import type { ParamStore } from "./params.ts";
import { add, relu } from "../tensor/ops.ts";
import { upsampleNearest2x } from "../tensor/ops_nn.ts";
import type { Tensor } from "../tensor/tensor.ts";

function basicBlock(ps: ParamStore, name: string, x: Tensor, cin: number, cout: number, stride: number, g: number) {
  const h = convGnRelu(ps, `${name}.conv1`, x, { cin, cout, k: 3, stride }, g);
  const y = gn(ps, `${name}.conv2.norm`, conv(ps, `${name}.conv2`, h, { cin: cout, cout, k: 3 }), cout, g);
  const skip = stride === 1 && cin === cout
    ? x
    : gn(ps, `${name}.down.norm`, conv(ps, `${name}.down`, x, { cin, cout, k: 1, stride }), cout, g);
  return relu(add(y, skip));
}

/** Output stride of the backbone's feature map. */
export function backboneStride(cfg: DetectorConfig): number {
  const stages = cfg.blocks.length + 1;
  return 2 ** (cfg.fpn ? stages - 1 : stages);
}

/** Features [B, featureChannels, H/stride, W/stride] of images [B, 3, H, W]. */
export function backbone(ps: ParamStore, cfg: DetectorConfig, images: Tensor): Tensor {
  const w = cfg.widths, g = cfg.gnGroups;
  let x = convGnRelu(ps, "backbone.stem", images, { cin: 3, cout: w[0], k: 3, stride: 2 }, g);
  const outs: Tensor[] = [];
  cfg.blocks.forEach((n, s) => {
    for (let b = 0; b < n; b++) {
      const cin = b === 0 ? w[s] : w[s + 1];
      x = basicBlock(ps, `backbone.stage${s + 1}.${b}`, x, cin, w[s + 1], b === 0 ? 2 : 1, g);
    }
    outs.push(x);
  });
  const F = cfg.featureChannels;
  if (!cfg.fpn) {
    return w.at(-1) === F ? x : conv(ps, "neck.proj", x, { cin: w.at(-1)!, cout: F, k: 1, bias: true });
  }
  // Two-level FPN: the coarse level's lateral is upsampled onto the fine one.
  const fine = outs.at(-2)!, coarse = outs.at(-1)!;
  const lc = conv(ps, "fpn.lateral_coarse", coarse, { cin: w.at(-1)!, cout: F, k: 1, bias: true });
  const lf = conv(ps, "fpn.lateral_fine", fine, { cin: w.at(-2)!, cout: F, k: 1, bias: true });
  const merged = add(lf, upsampleNearest2x(lc));
  return conv(ps, "fpn.output", merged, { cin: F, cout: F, k: 3, bias: true });
}
