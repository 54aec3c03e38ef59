/** Transposed convolution with kernel = stride, no padding (Mask R-CNN's 2x2 upsampling). */
import { depthToSpaceKernel, spaceToDepthKernel } from "../kernels/conv_transpose.ts";
import { record } from "./autograd.ts";
import { matmul, reshape, sum } from "./ops.ts";
import { rt, Tensor } from "./tensor.ts";

/**
 * w [Cin, Cout, k, k] as torchvision's ConvTranspose2d: [N, Cin, H, W] -> [N, Cout, H*k, W*k].
 * @example
 * ```ts
 * const up = convTranspose2d(x, w, { bias: b }); // Mask R-CNN's conv5_mask: 14x14 -> 28x28
 * ```
 */
export function convTranspose2d(x: Tensor, w: Tensor, opts: { bias?: Tensor | null } = {}): Tensor {
  if (x.shape.length !== 4 || w.shape.length !== 4) {
    throw new Error(`convTranspose2d takes a 4-D input and weight, got [${x.shape}] and [${w.shape}]`);
  }
  const [N, Cin, H, W] = x.shape, [Cw, C, k, k2] = w.shape;
  if (Cw !== Cin || k !== k2) {
    throw new Error(`convTranspose2d weight [${w.shape}] does not fit [${x.shape}] (square kernels only)`);
  }
  const bias = opts.bias ?? null;
  if (bias && bias.shape.join() !== `${C}`) throw new Error(`convTranspose2d bias must be [${C}], got [${bias.shape}]`);
  // Z [N, C*k*k, H*W] = W^T [C*k*k, Cin] @ X [N, Cin, H*W].
  const z = matmul(reshape(w, [Cin, C * k * k]), reshape(x, [N, Cin, H * W]), { transA: true });
  const p = { N, C, H, W, s: k };
  const out = new Tensor([N, C, H * k, W * k]);
  if (out.size > 0) {
    rt().dispatch(depthToSpaceKernel, { ...p, bias: !!bias }, [z.buffer, ...(bias ? [bias.buffer] : []), out.buffer]);
  }
  return record(out, "convTranspose2d", bias ? [z, bias] : [z], (g) => {
    const dz = new Tensor(z.shape);
    if (dz.size > 0) rt().dispatch(spaceToDepthKernel, p, [g.buffer, dz.buffer]);
    return bias ? [dz, bias.requiresGrad ? sum(g, [0, 2, 3]) : null] : [dz];
  });
}
