/**
 * ResNet v1.5 with frozen batch norm (folded into each conv), as torchvision's
 * `resnet50(norm_layer=FrozenBatchNorm2d)` in Mask R-CNN: same names under `backbone.body.`, same frozen stages.
 */
import { z } from "zod";
import { convFrozenBn } from "../layers.ts";
import type { ParamStore } from "../params.ts";
import type { Backbone } from "./backbone.ts";
import { isGradEnabled } from "../../tensor/autograd.ts";
import { addRelu } from "../../tensor/ops.ts";
import { maxPool2d } from "../../tensor/ops_nn.ts";
import type { Tensor } from "../../tensor/tensor.ts";

export const ResNetConfig = z.strictObject({
  kind: z.literal("resnet"),
  /** 50 or 101 (bottleneck blocks per stage: 3-4-6-3 or 3-4-23-3). */
  depth: z.union([z.literal(50), z.literal(101)]).default(50),
  /** Stages that train, from the top as torchvision's `trainable_layers`: 3 trains layer2-4, 5 all, 0 none. */
  trainableLayers: z.int().min(0).max(5).default(3),
  /** Stages whose outputs the neck takes (1 = layer1, stride 4 ... 4 = layer4, stride 32). */
  returnLayers: z.array(z.int().min(1).max(4)).min(1).default([1, 2, 3, 4]),
  /** Zero-init each block's last conv so training from scratch is stable (frozen BNs do not rescale a deep stack). */
  zeroInitResidual: z.boolean().default(true),
});
export type ResNetConfig = z.infer<typeof ResNetConfig>;

const BLOCKS: Record<50 | 101, number[]> = { 50: [3, 4, 6, 3], 101: [3, 4, 23, 3] };
const STAGES = ["layer1", "layer2", "layer3", "layer4"];

export class ResNet implements Backbone {
  readonly strides: number[];
  readonly channels: number[];
  readonly #train: Set<string>;

  constructor(readonly cfg: ResNetConfig) {
    this.strides = cfg.returnLayers.map((l) => 2 ** (l + 1));
    this.channels = cfg.returnLayers.map((l) => 256 * 2 ** (l - 1));
    this.#train = new Set(["layer4", "layer3", "layer2", "layer1", "conv1"].slice(0, cfg.trainableLayers));
  }

  forward(ps: ParamStore, images: Tensor): Tensor[] {
    const p = "backbone.body";
    const stem = convFrozenBn(ps, `${p}.conv1`, `${p}.bn1`, images, {
      cin: 3,
      cout: 64,
      k: 7,
      stride: 2,
      padding: 3,
      trainable: this.#train.has("conv1"),
      init: { kind: "kaiming", fanIn: 64 * 49 },
    });
    let x = maxPool2d(stem, 3, { stride: 2, padding: 1, relu: true });
    // Without a graph to record, a block's input is dead once the block has run: free it now, so
    // inference holds a few activations at a time instead of all of them.
    const eager = !isGradEnabled();
    if (eager) stem.dispose();
    let cin = 64;
    const outs: Tensor[] = [];
    BLOCKS[this.cfg.depth].forEach((n, s) => {
      const planes = 64 * 2 ** s, trainable = this.#train.has(STAGES[s]);
      for (let b = 0; b < n; b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        const y = this.#bottleneck(ps, `${p}.${STAGES[s]}.${b}`, x, { cin, planes, stride, trainable, down: b === 0 });
        if (eager && !outs.includes(x)) x.dispose();
        x = y;
        cin = planes * 4;
      }
      if (this.cfg.returnLayers.includes(s + 1)) outs.push(x);
    });
    return outs;
  }

  #bottleneck(
    ps: ParamStore,
    name: string,
    x: Tensor,
    o: { cin: number; planes: number; stride: number; trainable: boolean; down: boolean },
  ): Tensor {
    const { cin, planes, stride, trainable } = o;
    // torchvision initialises convolutions Kaiming-normal over the fan-out.
    const fanOut = (cout: number, k: number) => ({ kind: "kaiming" as const, fanIn: cout * k * k });
    const h1 = convFrozenBn(ps, `${name}.conv1`, `${name}.bn1`, x, {
      cin,
      cout: planes,
      k: 1,
      trainable,
      relu: true,
      init: fanOut(planes, 1),
    });
    const h2 = convFrozenBn(ps, `${name}.conv2`, `${name}.bn2`, h1, {
      cin: planes,
      cout: planes,
      k: 3,
      stride,
      trainable,
      relu: true,
      init: fanOut(planes, 3),
    });
    const y = convFrozenBn(ps, `${name}.conv3`, `${name}.bn3`, h2, {
      cin: planes,
      cout: 4 * planes,
      k: 1,
      trainable,
      init: this.cfg.zeroInitResidual ? { kind: "constant", value: 0 } : fanOut(4 * planes, 1),
    });
    const skip = o.down
      ? convFrozenBn(ps, `${name}.downsample.0`, `${name}.downsample.1`, x, {
        cin,
        cout: 4 * planes,
        k: 1,
        stride,
        trainable,
        init: fanOut(4 * planes, 1),
      })
      : x;
    const out = addRelu(y, skip);
    if (!isGradEnabled()) { for (const t of [h1, h2, y, ...(o.down ? [skip] : [])]) t.dispose(); }
    return out;
  }
}
