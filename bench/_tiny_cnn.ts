/**
 * The tiny CNN of the foundation benchmark and the learning test:
 * conv(c1)-relu-maxpool2 - conv(c2)-relu-maxpool2 - conv(c3)-relu -
 * global average pool - dense(classes), softmax cross entropy (the fused
 * `softmaxCrossEntropy`: the same value and gradient as
 * -mean(sum(logSoftmax(logits) * oneHot, 1)) in 3 dispatches instead of 10), trained by
 * an optimizer from tensor/optim.ts. Shapes are parameters so the test can
 * run a smaller copy of the benchmark's network.
 */
import type { Rng } from "../core/rng.ts";
import { add, backward, matmul, reshape } from "../tensor/ops.ts";
import { conv2d } from "../tensor/ops_conv.ts";
import { avgPoolGlobal, maxPool2d, softmaxCrossEntropy } from "../tensor/ops_nn.ts";
import { parameter } from "../tensor/optim.ts";
import { type Tensor, tidy } from "../tensor/tensor.ts";

export interface TinyCnnShape {
  batch: number;
  /** Input is [batch, 3, size, size]; size divisible by 4. */
  size: number;
  widths: [number, number, number];
  classes: number;
}

/** The benchmark's network: conv16-pool-conv32-pool-conv64-gap-dense10 on batch 8 of 64x64. */
export const BENCH_CNN: TinyCnnShape = { batch: 8, size: 64, widths: [16, 32, 64], classes: 10 };

/** Kaiming-uniform weights and zero biases, as kept parameters: [w1, b1, w2, b2, w3, b3, wd, bd]. */
export function tinyCnnParams(s: TinyCnnShape, rng: Rng): Tensor[] {
  const uniform = (n: number, fanIn: number) => {
    const bound = Math.sqrt(6 / fanIn);
    return Float32Array.from({ length: n }, () => rng.uniform(-bound, bound));
  };
  const [c1, c2, c3] = s.widths;
  const convs = [[c1, 3], [c2, c1], [c3, c2]].flatMap(([co, ci]) => [
    parameter(uniform(co * ci * 9, ci * 9), [co, ci, 3, 3]),
    parameter(new Float32Array(co), [co]),
  ]);
  return [
    ...convs,
    parameter(uniform(c3 * s.classes, c3), [c3, s.classes]),
    parameter(new Float32Array(s.classes), [s.classes]),
  ];
}

/** Logits [batch, classes] of the network on x [batch, 3, size, size]. */
export function tinyCnnForward(params: Tensor[], x: Tensor): Tensor {
  const [w1, b1, w2, b2, w3, b3, wd, bd] = params;
  // maxPool2d(relu(y)) and avgPoolGlobal(relu(y)) as fused passes: the same values and gradients, one pass less
  // each way.
  let h = maxPool2d(conv2d(x, w1, { bias: b1, padding: 1 }), 2, { relu: true });
  h = maxPool2d(conv2d(h, w2, { bias: b2, padding: 1 }), 2, { relu: true });
  h = avgPoolGlobal(conv2d(h, w3, { bias: b3, padding: 1 }), { relu: true });
  return add(matmul(reshape(h, [h.shape[0], h.shape[1]]), wd), bd);
}

/** Forward and backward of one batch; gradients land in the parameters' `.grad`; returns the loss (caller disposes). */
export function tinyCnnLossAndGrad(params: Tensor[], x: Tensor, oneHot: Tensor): Tensor {
  return tidy(() => {
    const loss = softmaxCrossEntropy(tinyCnnForward(params, x), oneHot);
    backward(loss);
    return loss;
  });
}
