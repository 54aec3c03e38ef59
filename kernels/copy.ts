/**
 * Strided copy: for every coordinate c of `shape`,
 * Y[dstOffset + c . dstStrides] = X[srcOffset + c . srcStrides].
 * One kernel covers transpose/permute (permuted source strides), slice
 * (offset source) and concat (offset destination), and their gradients.
 */
import { defineKernel, grid1d } from "./kernel.ts";

export interface CopyParams {
  shape: number[];
  srcOffset: number;
  srcStrides: number[];
  dstOffset: number;
  dstStrides: number[];
  dtype?: "f32" | "i32" | "u32";
}

const WG = 64;

export const copyKernel = defineKernel<CopyParams>({
  name: "strided_copy",
  wgsl(p) {
    const t = p.dtype ?? "f32";
    const n = p.shape.reduce((a, b) => a * b, 1);
    const idx: string[] = ["var r = i;", `var s = ${p.srcOffset}u;`, `var d = ${p.dstOffset}u;`];
    for (let k = p.shape.length - 1; k >= 0; k--) {
      if (p.shape[k] === 1) continue;
      idx.push(`{ let c = r % ${p.shape[k]}u; r = r / ${p.shape[k]}u;`);
      if (p.srcStrides[k]) idx.push(`s += c * ${p.srcStrides[k]}u;`);
      if (p.dstStrides[k]) idx.push(`d += c * ${p.dstStrides[k]}u;`);
      idx.push("}");
    }
    return `@group(0) @binding(0) var<storage, read> X: array<${t}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${t}>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x + g.y * ${65535 * WG}u;
  if (i >= ${n}u) { return; }
  ${idx.join("\n  ")}
  Y[d] = X[s];
}`;
  },
  dispatch: (p) => grid1d(p.shape.reduce((a, b) => a * b, 1), WG),
});
