// One invocation per output; when few outputs reduce many inputs the caller splits the work (`reducePlan`).
import { defineKernel, f32, flatIndex, grid1d } from "./kernel.ts";

export interface ReduceParams {
  op: "sum" | "max";
  inShape: number[];
  axes: number[];
  /** Multiplies the result (1/n for a mean). */
  scale?: number;
}

const WG = 64;

function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

export function reducedShape(inShape: number[], axes: number[]): number[] {
  return inShape.filter((_, d) => !axes.includes(d));
}

export const reduceKernel = defineKernel<ReduceParams>({
  name: "reduce",
  wgsl({ op, inShape, axes, scale = 1 }) {
    const st = strides(inShape);
    const kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d));
    const nOut = kept.reduce((a, d) => a * inShape[d], 1);
    const nRed = axes.reduce((a, d) => a * inShape[d], 1);
    const outIdx: string[] = ["var r = o; var base = 0u;"];
    for (let k = kept.length - 1; k >= 0; k--) {
      const d = kept[k];
      outIdx.push(`base += (r % ${inShape[d]}u) * ${st[d]}u; r = r / ${inShape[d]}u;`);
    }
    // Reduced offset: if the reduced axes are the trailing contiguous block, it is just j.
    const trailing = axes.length > 0 && axes.every((d, k) => d === inShape.length - axes.length + k);
    const redIdx: string[] = [];
    if (trailing) redIdx.push("let off = base + j;");
    else {
      redIdx.push("var q = j; var off = base;");
      for (let k = axes.length - 1; k >= 0; k--) {
        const d = axes[k];
        redIdx.push(`off += (q % ${inShape[d]}u) * ${st[d]}u; q = q / ${inShape[d]}u;`);
      }
    }
    const init = op === "sum" ? "0.0" : "-3.4028234663852886e38";
    const acc = op === "sum" ? "acc = acc + X[off];" : "acc = max(acc, X[off]);";
    return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let o = ${flatIndex("g", WG)};
  if (o >= ${nOut}u) { return; }
  ${outIdx.join(" ")}
  var acc: f32 = ${init};
  for (var j = 0u; j < ${nRed}u; j++) {
    ${redIdx.join(" ")}
    ${acc}
  }
  Y[o] = acc${scale === 1 ? "" : ` * ${f32(scale)}`};
}`;
  },
  dispatch: ({ inShape, axes }) => grid1d(reducedShape(inShape, axes).reduce((a, b) => a * b, 1), WG),
});
