/**
 * The backbone (stem, residual stages, optional two-level FPN) against a
 * float64 mirror written from backbone.ts's structure, with the gradient of
 * every parameter entry and of the images checked by finite differences.
 */
import { gpuTest, randomArray, rng } from "../_util.ts";
import { checkPart } from "./_part_check.ts";
import {
  add64,
  layerConv64,
  layerConvGnRelu64,
  layerGn64,
  type Params64,
  relu64,
  type T64,
  upsample2x64,
} from "./_ref64.ts";
import { backbone } from "../../model/backbone.ts";
import { type DetectorConfig, detectorConfig } from "../../model/config.ts";

function basicBlock64(ps: Params64, name: string, x: T64, cin: number, cout: number, stride: number, g: number) {
  const h = layerConvGnRelu64(ps, `${name}.conv1`, x, { cin, cout, k: 3, stride }, g);
  const y = layerGn64(ps, `${name}.conv2.norm`, layerConv64(ps, `${name}.conv2`, h, { cin: cout, cout, k: 3 }), g);
  const skip = stride === 1 && cin === cout
    ? x
    : layerGn64(ps, `${name}.down.norm`, layerConv64(ps, `${name}.down`, x, { cin, cout, k: 1, stride }), g);
  return relu64(add64(y, skip));
}

function backbone64(ps: Params64, cfg: DetectorConfig, images: T64): T64 {
  const w = cfg.widths, g = cfg.gnGroups, F = cfg.featureChannels;
  let x = layerConvGnRelu64(ps, "backbone.stem", images, { cin: 3, cout: w[0], k: 3, stride: 2 }, g);
  const outs: T64[] = [];
  cfg.blocks.forEach((n, s) => {
    for (let b = 0; b < n; b++) {
      x = basicBlock64(ps, `backbone.stage${s + 1}.${b}`, x, b === 0 ? w[s] : w[s + 1], w[s + 1], b ? 1 : 2, g);
    }
    outs.push(x);
  });
  if (!cfg.fpn) {
    return w.at(-1) === F ? x : layerConv64(ps, "neck.proj", x, { cin: w.at(-1)!, cout: F, k: 1, bias: true });
  }
  const lc = layerConv64(ps, "fpn.lateral_coarse", outs.at(-1)!, { cin: w.at(-1)!, cout: F, k: 1, bias: true });
  const lf = layerConv64(ps, "fpn.lateral_fine", outs.at(-2)!, { cin: w.at(-2)!, cout: F, k: 1, bias: true });
  return layerConv64(ps, "fpn.output", add64(lf, upsample2x64(lc)), { cin: F, cout: F, k: 3, bias: true });
}

// f32 against float64 through eight convolutions and group norms (which rescale every stage):
// measured up to 1.3e-6 absolute on outputs of O(1-5) forward and 5e-7 of the largest entry for
// gradients; the bounds leave a factor of 3-20.
const TOL = { rtol: 3e-5, atol: 3e-6 };
const GRAD = { rtol: 3e-5, scaledAtol: 1e-5 };

for (const fpn of [false, true]) {
  gpuTest(
    `backbone() ${fpn ? "with the FPN" : "with a projection neck"} matches float64, every gradient entry`,
    async () => {
      const r = rng(fpn ? 81 : 82);
      // Stages of one and two blocks (an identity skip and projected ones), widths that need a neck;
      // odd sizes without the FPN, sizes whose coarse level upsamples onto the fine one with it.
      const cfg = detectorConfig("tiny", { widths: [4, 4, 8], blocks: [1, 2], gnGroups: 2, featureChannels: 6, fpn });
      const shape = fpn ? [2, 3, 16, 8] : [2, 3, 13, 11];
      await checkPart({
        name: `backbone fpn=${fpn}`,
        input: { data: randomArray(r, shape.reduce((a, b) => a * b, 1)), shape },
        gpu: (ps, x) => backbone(ps, cfg, x),
        ref: (ps, x) => backbone64(ps, cfg, x),
        rng: r,
        tol: TOL,
        gradTol: GRAD,
      });
    },
  );
}
