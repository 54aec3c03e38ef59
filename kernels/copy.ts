/**
 * Strided copy, Y[dstOffset + c . dstStrides] = X[srcOffset + c . srcStrides]: permute, slice, concat and their
 * gradients. Copies vec4s where the layout allows: on llvmpipe a vec4 load costs about one scalar load.
 */
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface CopyParams {
  shape: number[];
  srcOffset: number;
  srcStrides: number[];
  dstOffset: number;
  dstStrides: number[];
  dtype?: "f32" | "i32" | "u32";
}

const WG = 64;

function _asVec4(p: CopyParams): CopyParams | null {
  const last = p.shape.length - 1;
  if (last < 0 || p.shape[last] % 4 !== 0 || p.srcStrides[last] !== 1 || p.dstStrides[last] !== 1) return null;
  const rest = [p.srcOffset, p.dstOffset, ...p.srcStrides.slice(0, last), ...p.dstStrides.slice(0, last)];
  if (rest.some((v) => v % 4 !== 0)) return null;
  return {
    ...p,
    shape: [...p.shape.slice(0, last), p.shape[last] / 4],
    srcOffset: p.srcOffset / 4,
    dstOffset: p.dstOffset / 4,
    srcStrides: p.srcStrides.map((v, k) => k === last ? 1 : v / 4),
    dstStrides: p.dstStrides.map((v, k) => k === last ? 1 : v / 4),
  };
}

export const copyKernel = defineKernel<CopyParams>({
  name: "strided_copy",
  wgsl(p0) {
    const v4 = _asVec4(p0);
    const p = v4 ?? p0;
    const t = v4 ? `vec4<${p.dtype ?? "f32"}>` : p.dtype ?? "f32";
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
  let i = ${flatIndex("g", WG)};
  if (i >= ${n}u) { return; }
  ${idx.join("\n  ")}
  Y[d] = X[s];
}`;
  },
  dispatch: (p) => grid1d((_asVec4(p) ?? p).shape.reduce((a, b) => a * b, 1), WG),
});
