import { assertClose, gpuTest, numericGrad, randomArray, read64, rng } from "../_util.ts";
import type { Rng } from "../../core/rng.ts";
import { rt, Tensor, tidy } from "../../tensor/tensor.ts";
import { backward } from "../../tensor/ops.ts";
import { roiAlign, roiAlignGrad, type RoiAlignOptions, roiAlignParams } from "../../model/roi_align.ts";

interface Shape4 {
  B: number;
  C: number;
  H: number;
  W: number;
}

/** Float64 RoIAlign written from torchvision's CPU loops; `scatter` gives the backward instead. */
function roiAlign64(
  x: Float64Array,
  rois: Float64Array,
  s: Shape4,
  o: Required<Omit<RoiAlignOptions, "chunk">>,
  scatter?: { grad: Float64Array; dx: Float64Array },
): Float64Array {
  const P = o.outputSize, R = rois.length / 5;
  const out = new Float64Array(R * s.C * P * P);
  const axis = (v: number, n: number): [number, number, number, number] | null => {
    if (v < -1 || v > n) return null;
    let t = Math.max(v, 0);
    let lo = Math.trunc(t), hi = lo + 1;
    if (lo >= n - 1) {
      lo = hi = n - 1;
      t = lo;
    }
    return [lo, hi, 1 - (t - lo), t - lo];
  };
  const off = o.aligned ? 0.5 : 0;
  for (let r = 0; r < R; r++) {
    const b = Math.floor(rois[5 * r]);
    if (b < 0 || b >= s.B) continue;
    const x0 = rois[5 * r + 1] * o.spatialScale - off, y0 = rois[5 * r + 2] * o.spatialScale - off;
    let rw = rois[5 * r + 3] * o.spatialScale - off - x0, rh = rois[5 * r + 4] * o.spatialScale - off - y0;
    if (!o.aligned) [rw, rh] = [Math.max(rw, 1), Math.max(rh, 1)];
    const bw = rw / P, bh = rh / P;
    const gw = o.samplingRatio > 0 ? o.samplingRatio : Math.max(Math.ceil(rw / P), 0);
    const gh = o.samplingRatio > 0 ? o.samplingRatio : Math.max(Math.ceil(rh / P), 0);
    const count = Math.max(gw * gh, 1);
    for (let c = 0; c < s.C; c++) {
      const plane = (b * s.C + c) * s.H * s.W;
      for (let ph = 0; ph < P; ph++) {
        for (let pw = 0; pw < P; pw++) {
          const oi = ((r * s.C + c) * P + ph) * P + pw;
          let acc = 0;
          for (let iy = 0; iy < gh; iy++) {
            const ay = axis(y0 + ph * bh + (iy + 0.5) * bh / gh, s.H);
            for (let ix = 0; ix < gw; ix++) {
              const ax = axis(x0 + pw * bw + (ix + 0.5) * bw / gw, s.W);
              if (!ay || !ax) continue;
              for (const [yy, wy] of [[ay[0], ay[2]], [ay[1], ay[3]]]) {
                for (const [xx, wx] of [[ax[0], ax[2]], [ax[1], ax[3]]]) {
                  const k = plane + yy * s.W + xx;
                  if (scatter) scatter.dx[k] += scatter.grad[oi] * wy * wx / count;
                  else acc += wy * wx * x[k];
                }
              }
            }
          }
          out[oi] = acc / count;
        }
      }
    }
  }
  return out;
}

/** RoIs of every kind: inside, straddling the border, tiny, degenerate, far outside, and for a missing image. */
function randomRois(r: Rng, n: number, s: Shape4, stride: number): Float64Array {
  const imgH = s.H * stride, imgW = s.W * stride;
  const rois = new Float64Array(n * 5);
  for (let i = 0; i < n; i++) {
    const kind = i % 6;
    const cx = r.uniform(-0.2, 1.2) * imgW, cy = r.uniform(-0.2, 1.2) * imgH;
    const scale = kind === 1 ? 0.05 : kind === 2 ? 1.5 : 0.5;
    const w = r.uniform(0.01, 1) * imgW * scale, h = r.uniform(0.01, 1) * imgH * scale;
    rois.set([r.int(s.B), cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 5 * i);
    if (kind === 3) rois.set([rois[5 * i + 1], rois[5 * i + 2]], 5 * i + 3); // zero size
    if (kind === 4 && i % 12 === 4) rois[5 * i] = -1; // padding RoI: pools to zeros
  }
  return Float64Array.from(rois, Math.fround);
}

const CASES: { s: Shape4; o: Required<Omit<RoiAlignOptions, "chunk">>; R: number; chunk?: number }[] = [
  { s: { B: 2, C: 11, H: 13, W: 9 }, o: { outputSize: 3, spatialScale: 0.5, samplingRatio: 2, aligned: true }, R: 19 },
  {
    s: { B: 2, C: 37, H: 5, W: 6 },
    o: { outputSize: 2, spatialScale: 0.5, samplingRatio: 2, aligned: true },
    R: 7,
    chunk: 2,
  },
  { s: { B: 1, C: 3, H: 7, W: 10 }, o: { outputSize: 7, spatialScale: 0.25, samplingRatio: 0, aligned: true }, R: 13 },
  {
    s: { B: 3, C: 5, H: 17, W: 6 },
    o: { outputSize: 2, spatialScale: 1, samplingRatio: 3, aligned: false },
    R: 25,
    chunk: 4,
  },
];

gpuTest("roiAlign() forward matches float64 torchvision semantics, every output written", async () => {
  const r = rng(11);
  for (const { s, o, R, chunk } of CASES) {
    const x = randomArray(r, s.B * s.C * s.H * s.W);
    const rois = randomRois(r, R, s, 1 / o.spatialScale);
    const want = roiAlign64(x, rois, s, o);
    // Poisoned by the pool: the output buffer last held NaNs of the same size.
    for (let k = 0; k < 3; k++) rt().release(rt().upload(new Float32Array(want.length).fill(NaN)));
    const got = await tidy(() =>
      roiAlign(Tensor.from(x, [s.B, s.C, s.H, s.W]), Tensor.from(rois, [R, 5]), { ...o, chunk })
    )
      .toArray();
    // At most 4 * 3 * 3 f32 products of values <= 1 per output, divided by the count: ~1e-6 absolute.
    assertClose(got, want, { rtol: 1e-5, atol: 1e-5 }, `roiAlign ${JSON.stringify(o)}`);
  }
});

gpuTest("roiAlign() puts pixel centres at integer coordinates when aligned", async () => {
  const x = Float64Array.from({ length: 16 }, (_, i) => i + 1);
  const got = await tidy(() =>
    roiAlign(Tensor.from(x, [1, 1, 4, 4]), Tensor.from([0, 0, 0, 4, 4], [1, 5]), { outputSize: 2, spatialScale: 1 })
  ).toArray();
  // Samples at 0, 1, 2, 3 in each axis: bin (0, 0) averages pixels 1, 2, 5, 6.
  assertClose(got, [3.5, 5.5, 11.5, 13.5], { atol: 1e-6 }, "aligned pooling of 1..16");
});

gpuTest("roiAlign() backward gathers the float64 scatter and matches finite differences", async () => {
  const r = rng(12);
  for (const { s, o, R, chunk } of CASES) {
    const x = randomArray(r, s.B * s.C * s.H * s.W);
    const rois = randomRois(r, R, s, 1 / o.spatialScale);
    const P = o.outputSize;
    const gout = randomArray(r, R * s.C * P * P);
    const want = new Float64Array(x.length);
    roiAlign64(x, rois, s, o, { grad: gout, dx: want });
    // Poisoned by the pool: the gradient buffer last held NaNs of the same size.
    for (let k = 0; k < 3; k++) rt().release(rt().upload(new Float32Array(x.length).fill(NaN)));
    const tx = Tensor.from(x, [s.B, s.C, s.H, s.W]).requireGrad();
    tidy(() => {
      const y = roiAlign(tx, Tensor.from(rois, [R, 5]), { ...o, chunk });
      backward(y, Tensor.from(gout, y.shape));
    });
    const got = await read64(tx.grad!);
    // Sums of up to a few hundred f32 terms of size <= 1: 1e-5 absolute is ~100 ulps of headroom.
    assertClose(got, want, { rtol: 1e-5, atol: 1e-5 }, `d roiAlign / dx ${JSON.stringify(o)}`);
    const loss = (v: Float64Array) => roiAlign64(v, rois, s, o).reduce((a, y, i) => a + y * gout[i], 0);
    const picks = Array.from({ length: 24 }, () => r.int(x.length));
    const fd = numericGrad(loss, x, 1e-4, picks);
    // The loss is linear in x, so central differences are exact up to float64 rounding of the loss.
    assertClose(picks.map((i) => got[i]), picks.map((i) => fd[i]), { rtol: 1e-4, atol: 1e-5 }, "finite differences");
    tx.grad!.dispose();
    tx.dispose();
  }
});

gpuTest("roiAlignGrad() writes zeros where no RoI reaches and handles no RoIs in an image", async () => {
  const s = { B: 2, C: 3, H: 20, W: 20 };
  const rois = Float64Array.from([0, 2, 2, 6, 6]); // image 0 only, top-left corner
  const grad = await tidy(() => {
    const feats = Tensor.from(new Float32Array(s.B * s.C * s.H * s.W), [s.B, s.C, s.H, s.W]);
    const tr = Tensor.from(rois, [1, 5]);
    const p = roiAlignParams(feats, tr, { outputSize: 2, spatialScale: 1 });
    const poison = rt().upload(new Float32Array(s.B * s.C * s.H * s.W).fill(NaN));
    rt().release(poison);
    return roiAlignGrad(Tensor.from(new Float32Array(3 * 4).fill(1), [1, 3, 2, 2]), tr, p);
  }).toArray();
  const want = new Float64Array(grad.length);
  roiAlign64(new Float64Array(grad.length), rois, s, {
    outputSize: 2,
    spatialScale: 1,
    samplingRatio: 2,
    aligned: true,
  }, {
    grad: new Float64Array(12).fill(1),
    dx: want,
  });
  assertClose(grad, want, { atol: 1e-6 }, "sparse gradient");
});
