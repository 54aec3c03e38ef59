/**
 * Convolution as GEMM over im2col columns, for weights too large for the direct kernel.
 * Columns are laid out again for the backward, not kept, so memory matches the direct kernel.
 */
import type { ConvGeometry } from "../kernels/conv2d.ts";
import { gemm } from "../kernels/gemm.ts";
import { col2imKernel, im2colKernel, type Im2colParams } from "../kernels/im2col.ts";
import { record } from "./autograd.ts";
import { mapRaw, reduceRaw, reshape, sum } from "./ops.ts";
import { rt, Tensor } from "./tensor.ts";

function direct(g: ConvGeometry): boolean {
  return g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;
}

function columns(x: Tensor, p: Im2colParams): Tensor {
  if (direct(p)) return x;
  const cols = new Tensor([p.N, p.C * p.KH * p.KW, p.OH * p.OW]);
  if (cols.size > 0) rt().dispatch(im2colKernel, p, [x.buffer, cols.buffer]);
  return cols;
}

export function conv2dGemm(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry & { OH: number; OW: number; relu?: boolean },
): Tensor {
  const { OH, OW } = g;
  const p: Im2colParams = { ...g };
  const R = g.C * g.KH * g.KW, P = OH * OW, r = rt();
  const cols = columns(x, p);
  let y = new Tensor([g.N, g.K, OH, OW]);
  gemm(r, { batch: g.N, M: g.K, N: P, K: R, transA: false, transB: false, broadcastA: true }, [
    w.buffer,
    cols.buffer,
    y.buffer,
  ]);
  if (cols !== x) cols.dispose();
  if (bias || g.relu) {
    const expr = bias ? (g.relu ? "max(x0 + x1, 0.0)" : "x0 + x1") : "max(x0, 0.0)";
    const out = mapRaw(expr, bias ? [y, reshape(bias, [g.K, 1, 1])] : [y], y.shape);
    y.dispose();
    y = out;
  }
  const inputs = bias ? [x, w, bias] : [x, w];
  const out = y;
  return record(out, "conv2dGemm", inputs, (gOut) => {
    const dy = g.relu ? mapRaw("select(0.0, x1, x0 > 0.0)", [out, gOut]) : gOut;
    let dx: Tensor | null = null, dw: Tensor | null = null;
    if (x.requiresGrad) {
      const dcols = new Tensor(direct(p) ? x.shape : [g.N, R, P]);
      gemm(r, { batch: g.N, M: R, N: P, K: g.K, transA: true, transB: false, broadcastA: true }, [
        w.buffer,
        dy.buffer,
        dcols.buffer,
      ]);
      if (direct(p)) dx = dcols;
      else {
        dx = new Tensor(x.shape);
        r.dispatch(col2imKernel, p, [dcols.buffer, dx.buffer]);
        dcols.dispose();
      }
    }
    if (w.requiresGrad) {
      const c = columns(x, p);
      const parts = new Tensor(g.N === 1 ? w.shape : [g.N, g.K, R]);
      gemm(r, { batch: g.N, M: g.K, N: R, K: P, transA: false, transB: true }, [dy.buffer, c.buffer, parts.buffer]);
      if (c !== x) c.dispose();
      if (g.N === 1) dw = parts;
      else {
        dw = reduceRaw(parts, "sum", [0], 1, w.shape);
        parts.dispose();
      }
    }
    return [dx, dw, ...(bias ? [bias.requiresGrad ? sum(dy, [0, 2, 3]) : null] : [])];
  });
}
