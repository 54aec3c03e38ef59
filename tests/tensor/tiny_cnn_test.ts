import assert from "node:assert/strict";
import { gpuTest, rng } from "../_util.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { SGD } from "../../tensor/optim.ts";
import type { Rng } from "../../core/rng.ts";
import { tinyCnnLossAndGrad, tinyCnnParams, type TinyCnnShape } from "../../bench/_tiny_cnn.ts";

const SHAPE: TinyCnnShape = { batch: 16, size: 16, widths: [8, 8, 16], classes: 4 };

/**
 * Four classes that only convolutions can tell apart: horizontal or vertical
 * stripes, drawn in the red or the blue channel, at a random phase, over noise.
 */
function batch(r: Rng, s: TinyCnnShape): { x: Float32Array; y: Float32Array; labels: number[] } {
  const { batch: n, size } = s;
  const x = new Float32Array(n * 3 * size * size), y = new Float32Array(n * s.classes);
  const labels: number[] = [];
  for (let b = 0; b < n; b++) {
    const label = r.int(4);
    labels.push(label);
    y[b * s.classes + label] = 1;
    const channel = label < 2 ? 0 : 2, vertical = label % 2 === 1, phase = r.int(4);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          const stripe = ((vertical ? j : i) + phase) % 4 < 2 ? 1 : -1;
          const signal = c === channel ? stripe : 0;
          x[((b * 3 + c) * size + i) * size + j] = signal + 0.3 * r.uniform(-1, 1);
        }
      }
    }
  }
  return { x, y, labels };
}

gpuTest("a tiny CNN trained with SGD on striped images drives its loss far below chance", async () => {
  const r = rng(41);
  const params = tinyCnnParams(SHAPE, r);
  const opt = new SGD(params, { lr: 0.05, momentum: 0.9, clipNorm: 5 });
  const losses: number[] = [];
  for (let step = 0; step < 30; step++) {
    const { x, y } = batch(r, SHAPE);
    const tx = Tensor.from(x, [SHAPE.batch, 3, SHAPE.size, SHAPE.size]);
    const ty = Tensor.from(y, [SHAPE.batch, SHAPE.classes]);
    const loss = tinyCnnLossAndGrad(params, tx, ty);
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    for (const t of [loss, tx, ty]) t.dispose();
  }
  const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
  // Chance is ln 4 = 1.386; a net that learned the stripes sits far below it on fresh batches.
  assert.ok(first > 1.0, `initial loss ${first} should be near chance (${losses.map((l) => l.toFixed(3))})`);
  assert.ok(last < 0.35 * first, `loss fell only from ${first} to ${last} (${losses.map((l) => l.toFixed(3))})`);
  opt.dispose();
  for (const p of params) p.dispose();
});
