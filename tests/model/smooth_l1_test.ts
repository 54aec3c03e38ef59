import { assertClose, gpuTest, numericGrad, randomArray, read64, rng } from "../_util.ts";
import { rt, Tensor, tidy } from "../../tensor/tensor.ts";
import { backward } from "../../tensor/ops.ts";
import { smoothL1Loss } from "../../model/smooth_l1.ts";

function smoothL164(
  pred: Float64Array,
  target: Float64Array,
  block: Int32Array,
  cols: number,
  beta: number,
  norm: number,
) {
  let s = 0;
  block.forEach((k, n) => {
    if (k < 0) return;
    for (let j = 0; j < 4; j++) {
      const a = Math.abs(pred[n * cols + 4 * k + j] - target[4 * n + j]);
      s += beta < 1e-5 ? a : a < beta ? 0.5 * a * a / beta : a - 0.5 * beta;
    }
  });
  return s / norm;
}

gpuTest("smoothL1Loss() matches float64 on the chosen class blocks, gradient by finite differences", async () => {
  const r = rng(61);
  for (const [rows, blocks, beta] of [[37, 5, 1 / 9], [130, 1, 0], [9, 3, 0.5]]) {
    const cols = 4 * blocks;
    const pred = randomArray(r, rows * cols), target = randomArray(r, rows * 4);
    const block = Int32Array.from({ length: rows }, () => r.int(blocks + 1) - 1); // -1: background row
    // Keep every difference off the kinks at 0 and +-beta, where differences are not derivatives.
    for (let n = 0; n < rows; n++) {
      for (let d = 0; d < cols; d++) {
        const near = () => {
          const x = Math.abs(pred[n * cols + d] - target[4 * n + (d % 4)]);
          return x < 0.02 || Math.abs(x - beta) < 0.02;
        };
        while (near()) pred[n * cols + d] += 0.03;
      }
    }
    const norm = r.uniform(1, 300);
    rt().release(rt().upload(new Float32Array(rows * cols).fill(NaN))); // poison the gradient buffer
    const tp = Tensor.from(pred, [rows, cols]).requireGrad();
    const loss = tidy(() => {
      const l = smoothL1Loss(tp, Tensor.from(target, [rows, 4]), { block, beta, normalizer: norm });
      backward(l);
      return l;
    });
    const want = smoothL164(pred, target, block, cols, beta, norm);
    // A sum of <= 4 * rows f32 terms: relative error ~ rows * 6e-8.
    assertClose([await loss.item()], [want], { rtol: 1e-5, atol: 1e-7 }, `loss rows=${rows} beta=${beta}`);
    const fd = numericGrad((x) => smoothL164(x, target, block, cols, beta, norm), pred, 1e-5);
    assertClose(await read64(tp.grad!), fd, { rtol: 1e-4, atol: 1e-7 }, `d loss / d pred beta=${beta}`);
    for (const t of [tp, tp.grad!, loss]) t.dispose();
  }
});
