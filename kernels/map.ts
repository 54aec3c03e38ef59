// Elementwise map over up to four inputs with numpy broadcasting (stride 0 along broadcast axes).
import { defineKernel, flatIndex, grid1d } from "./kernel.ts";

export interface MapParams {
  /** WGSL expression of x0..x{n-1} (f32) and the linear index `i` (u32). */
  expr: string;
  outShape: number[];
  inStrides: number[][];
  dtype?: "f32" | "i32" | "u32";
}

const WG = 256;

function contiguous(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

function modes({ outShape, inStrides }: MapParams): string[] {
  const cont = contiguous(outShape).join();
  return inStrides.map((s) => s.join() === cont ? "i" : s.every((v) => v === 0) ? "0" : "s");
}

/** Every input read at the output index or broadcast: the count then comes from a uniform, one pipeline for all shapes. */
export function mapIsFlat(p: MapParams): boolean {
  return modes(p).every((m) => m !== "s");
}

export const mapKernel = defineKernel<MapParams>({
  name: "map",
  key: (p) => mapIsFlat(p) ? `map:flat:${p.dtype ?? "f32"}:${modes(p).join("")}:${p.expr}` : `map:${JSON.stringify(p)}`,
  wgsl(p) {
    const { expr, outShape, inStrides, dtype = "f32" } = p;
    const n = outShape.reduce((a, b) => a * b, 1);
    const mode = modes(p);
    const flat = mapIsFlat(p);
    const decls = inStrides.map((_, k) => `@group(0) @binding(${k}) var<storage, read> X${k}: array<${dtype}>;`);
    const idx: string[] = [];
    if (mode.includes("s")) {
      idx.push("var r = i;");
      inStrides.forEach((_, k) => mode[k] === "s" && idx.push(`var o${k} = 0u;`));
      for (let d = outShape.length - 1; d >= 0; d--) {
        idx.push(`{ let c = r % ${outShape[d]}u; r = r / ${outShape[d]}u;`);
        inStrides.forEach((s, k) => mode[k] === "s" && s[d] !== 0 && idx.push(`o${k} += c * ${s[d]}u;`));
        idx.push("}");
      }
    }
    const at = (k: number) => mode[k] === "i" ? "i" : mode[k] === "0" ? "0" : `o${k}`;
    const loads = inStrides.map((_, k) => `let x${k} = X${k}[${at(k)}];`);
    const uniform = flat ? `struct U { n: u32 }\n@group(0) @binding(${inStrides.length + 1}) var<uniform> u: U;` : "";
    return `${decls.join("\n")}
@group(0) @binding(${inStrides.length}) var<storage, read_write> Y: array<${dtype}>;
${uniform}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = ${flatIndex("g", WG)};
  if (i >= ${flat ? "u.n" : `${n}u`}) { return; }
  ${idx.join(" ")}
  ${loads.join(" ")}
  Y[i] = ${expr};
}`;
  },
  dispatch: ({ outShape }) => grid1d(outShape.reduce((a, b) => a * b, 1), WG),
});

export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const cs = contiguous([...shape]);
  const off = outShape.length - shape.length;
  return outShape.map((d, k) => {
    const j = k - off;
    if (j < 0) return 0;
    if (shape[j] === d) return d === 1 ? 0 : cs[j];
    if (shape[j] === 1) return 0;
    throw new Error(`Cannot broadcast [${shape.join(", ")}] to [${outShape.join(", ")}]`);
  });
}

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    s.forEach((d, j) => {
      const k = j + off;
      if (out[k] === 1) out[k] = d;
      else if (d !== 1 && d !== out[k]) {
        throw new Error(`Shapes ${shapes.map((x) => `[${x.join(", ")}]`).join(" and ")} do not broadcast`);
      }
    });
  }
  return out;
}

export { contiguous as contiguousStrides };
