/**
 * The small presets' backbone (the group-norm ResNet) and the feature
 * pyramid against a float64 mirror written from gn_resnet.ts and fpn.ts,
 * with the gradient of every parameter entry and of the images checked by
 * finite differences.
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
import { fpn, FpnConfig } from "../../model/backbones/fpn.ts";
import { GnResNet, GnResNetConfig } from "../../model/backbones/gn_resnet.ts";
import { reshape } from "../../tensor/ops.ts";
import { concat } from "../../tensor/ops_shape.ts";

function block64(ps: Params64, name: string, x: T64, cin: number, cout: number, stride: number, g: number) {
  const h = layerConvGnRelu64(ps, `${name}.conv1`, `${name}.gn1`, x, { cin, cout, k: 3, stride }, g);
  const y = layerGn64(ps, `${name}.gn2`, layerConv64(ps, `${name}.conv2`, h, { cin: cout, cout, k: 3 }), g);
  const skip = stride === 1 && cin === cout ? x : layerGn64(
    ps,
    `${name}.downsample.1`,
    layerConv64(ps, `${name}.downsample.0`, x, { cin, cout, k: 1, stride }),
    g,
  );
  return relu64(add64(y, skip));
}

function gnResNet64(ps: Params64, cfg: GnResNetConfig, images: T64): T64[] {
  const p = "backbone.body", w = cfg.widths, g = cfg.gnGroups;
  let x = layerConvGnRelu64(ps, `${p}.conv1`, `${p}.gn1`, images, { cin: 3, cout: w[0], k: 3, stride: 2 }, g);
  const outs: T64[] = [];
  cfg.blocks.forEach((n, s) => {
    for (let b = 0; b < n; b++) {
      x = block64(ps, `${p}.layer${s + 1}.${b}`, x, b ? w[s + 1] : w[s], w[s + 1], b ? 1 : 2, g);
    }
    if (cfg.returnLayers.includes(s + 1)) outs.push(x);
  });
  return outs;
}

/** Max pooling with a 1x1 window and stride 2: every other pixel. */
function subsample64(x: T64): T64 {
  const [n, c, h, w] = x.shape, oh = Math.ceil(h / 2), ow = Math.ceil(w / 2);
  const out = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) out[(p * oh + i) * ow + j] = x.data[(p * h + 2 * i) * w + 2 * j];
    }
  }
  return { data: out, shape: [n, c, oh, ow] };
}

function fpn64(ps: Params64, cfg: FpnConfig, c: T64[], inChannels: number[]): T64[] {
  const F = cfg.channels, p = "backbone.fpn", n = c.length;
  const lateral = (i: number) =>
    layerConv64(ps, `${p}.inner_blocks.${i}.0`, c[i], { cin: inChannels[i], cout: F, k: 1, bias: true });
  const output = (i: number, x: T64) =>
    layerConv64(ps, `${p}.layer_blocks.${i}.0`, x, { cin: F, cout: F, k: 3, bias: true });
  const out: T64[] = new Array(n);
  let inner = lateral(n - 1);
  out[n - 1] = output(n - 1, inner);
  for (let i = n - 2; i >= 0; i--) {
    inner = add64(lateral(i), upsample2x64(inner));
    out[i] = output(i, inner);
  }
  if (cfg.extraPool) out.push(subsample64(out[n - 1]));
  return out;
}

const flat64 = (ts: T64[]): T64 => {
  const data = new Float64Array(ts.reduce((a, t) => a + t.data.length, 0));
  let at = 0;
  for (const t of ts) data.set(t.data, (at += t.data.length) - t.data.length);
  return { data, shape: [data.length] };
};

// f32 against float64 through eight convolutions and group norms (which rescale every stage):
// measured up to 1.3e-6 absolute on outputs of O(1-5) forward and 5e-7 of the largest entry for
// gradients; the bounds leave a factor of 3-20.
const TOL = { rtol: 3e-5, atol: 3e-6 };
const GRAD = { rtol: 3e-5, scaledAtol: 1e-5 };

for (const levels of [1, 2]) {
  gpuTest(`gn_resnet + FPN over ${levels} stage(s) matches float64, every gradient entry`, async () => {
    const r = rng(80 + levels);
    // Stages of one and two blocks (an identity skip and projected ones); with two levels the
    // coarse one upsamples onto the fine one and the extra pooled level has an odd side.
    const body = GnResNetConfig.parse({
      kind: "gn_resnet",
      widths: [4, 4, 8],
      blocks: [1, 2],
      gnGroups: 2,
      returnLayers: levels === 1 ? [2] : [1, 2],
    });
    const neck = FpnConfig.parse({ channels: 6, extraPool: levels === 2 });
    const net = new GnResNet(body);
    const shape = levels === 1 ? [2, 3, 13, 11] : [2, 3, 24, 8];
    await checkPart({
      name: `gn_resnet + fpn, ${levels} level(s)`,
      input: { data: randomArray(r, shape.reduce((a, b) => a * b, 1)), shape },
      gpu: (ps, x) => {
        const outs = fpn(ps, neck, net.forward(ps, x), net.channels);
        return concat(outs.map((o) => reshape(o, [o.size])), 0);
      },
      ref: (ps, x) => flat64(fpn64(ps, neck, gnResNet64(ps, body, x), net.channels)),
      rng: r,
      tol: TOL,
      gradTol: GRAD,
    });
  });
}
