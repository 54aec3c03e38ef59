/** The class-agnostic mask predictor: one channel, the same logits whatever the class, against float64. */
import assert from "node:assert/strict";
import { gpuTest, rng, SEED } from "../_util.ts";
import { MaskHead, MaskHeadConfig } from "../../model/heads/mask.ts";
import { ParamStore } from "../../model/params.ts";
import { Tensor } from "../../tensor/tensor.ts";

gpuTest(`a class-agnostic mask head gives every class its one channel (seed ${SEED})`, async () => {
  const r = rng(11);
  const R = 8, S = 6, C = 5 + r.int(5);
  const cfg = MaskHeadConfig.parse({ poolSize: 3, layers: [4], reducedChannels: R, classAgnostic: true });
  const head = new MaskHead(cfg, { inChannels: 4, numClasses: C });
  const ps = new ParamStore(r);
  const feats = Float32Array.from({ length: 3 * R * S * S }, () => r.uniform(-1, 1));
  const classes = [r.int(C), r.int(C), r.int(C)];
  const got = await head.logits(ps, Tensor.from(feats, [3, R, S, S]), classes).toF32();
  const w = await ps.get("roi_heads.mask_predictor.mask_fcn_logits.weight")!.toF32();
  const b = await ps.get("roi_heads.mask_predictor.mask_fcn_logits.bias")!.toF32();
  assert.deepEqual(ps.get("roi_heads.mask_predictor.mask_fcn_logits.weight")!.shape, [1, R, 1, 1]);
  for (let n = 0; n < 3; n++) {
    for (let p = 0; p < S * S; p++) {
      let want = b[0];
      for (let c = 0; c < R; c++) want += w[c] * feats[(n * R + c) * S * S + p];
      const v = got[n * S * S + p];
      assert.ok(Math.abs(v - want) <= 1e-5 * (1 + Math.abs(want)), `row ${n} pixel ${p}: ${v} vs ${want}`);
    }
  }
  ps.dispose();
});
