/**
 * Direct 2-D convolution, NCHW, as an implicit GEMM over a zero-padded
 * input (see conv2d_layout.ts): each invocation keeps a TM (output
 * channels) x TN (output pixels along one row) block of accumulators and
 * walks Cin x KH, reading the input row as aligned vec4s and the weight
 * ([Cin * KH * KW, Cout4], see `convWeightKernel`) as vec4s of output
 * channels. No bounds checks, no workgroup memory: on llvmpipe every
 * storage load is a loop over the SIMD lanes, so loads, not FMAs, set the
 * speed, and vec4 loads cost little more than scalar ones. The weight can
 * come from a uniform buffer instead (`wUniform`), where a load whose index
 * is the same for the whole workgroup is one scalar load; the caller then
 * streams the weight in chunks of at most 64 KiB. Blocks past the edges
 * compute on clamped indices and are never stored. Figures: BENCHMARKS.md.
 */
import { defineKernel, groups } from "./kernel.ts";
import { currentGemmVariant } from "./gemm_choice.ts";

/** Shapes and hyper-parameters of a convolution. */
export interface ConvGeometry {
  /** Batch, input channels, input height and width. */
  N: number;
  C: number;
  H: number;
  W: number;
  /** Output channels and kernel height and width. */
  K: number;
  KH: number;
  KW: number;
  /** Stride, zero padding and dilation along height and width. */
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** Output height and width of a convolution. */
export function convOutSize(g: ConvGeometry): [number, number] {
  const oh = Math.floor((g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1) / g.sh) + 1;
  const ow = Math.floor((g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1) / g.sw) + 1;
  return [oh, ow];
}

export interface Conv2dParams {
  N: number;
  /** Input channels and the padded input plane (Wp a multiple of 4, see `paddedWidth`). */
  C: number;
  Hp: number;
  Wp: number;
  K: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  OH: number;
  OW: number;
  /** A bias buffer [K] is bound after the weight and added to every output. */
  bias: boolean;
  /** Input channels c0 .. c0 + cn - 1 only (a chunk); defaults to all. */
  c0?: number;
  cn?: number;
  /** Add into Y instead of overwriting it (chunks after the first). */
  accumulate?: boolean;
  /**
   * Output channels kBase .. kBase + kCount - 1 only (a chunk of the weight's columns, which then
   * holds kCount columns: `ConvWeightParams.colsPerBlock`); defaults to all.
   */
  kBase?: number;
  kCount?: number;
  /** The weight chunk is a uniform array of this many vec4s (0: a storage buffer holding all of it). */
  wUniform?: number;
  /**
   * Read `c0` and `kBase` from a uniform {c0, kBase} bound last instead of baking them in, so
   * one pipeline serves every chunk of a layer (c0 and kBase are then ignored here).
   */
  offsetsUniform?: boolean;
  /**
   * Read an unpadded input instead: planes of Hp x Wp (Wp a multiple of 4) whose zero padding of
   * `top` rows and `left` columns (both >= 0) the kernel supplies itself, as zeros for rows and
   * vec4s outside the plane (stride 1 only). Saves a padding pass at the cost of one more vec4 load
   * per row where `left` is not a multiple of 4.
   */
  implicitPad?: { top: number; left: number };
  /**
   * Output channels (multiple of 4) and pixels (multiple of 4) per invocation, and invocations
   * per workgroup (all along pixels, so that the weight index is uniform in a workgroup).
   */
  tm?: number;
  tn?: number;
  wgx?: number;
  /** Unroll the kernel rows inside the loop over input channels (default: `conv2dUnrollsRows`). */
  unrollRows?: boolean;
}

/**
 * Whether the convolution unrolls its kernel rows: for kernels of up to 3 rows on a CPU adapter
 * (the GEMM's "blocked" choice), where accumulators live in memory and taking all taps of a
 * channel between spills pays; on a GPU the rows stay a loop, which keeps fewer values live.
 */
export function conv2dUnrollsRows(p: Pick<Conv2dParams, "KH" | "unrollRows">): boolean {
  return p.unrollRows ?? (p.KH <= 3 && currentGemmVariant() === "blocked");
}

/**
 * Tiles with defaults: 16 output channels x 16 pixels on a CPU adapter (the GEMM's "blocked"
 * choice), where with the weight from a uniform buffer the input loads set the speed and
 * each then serves twice the FMAs of an 8-channel block; 8 x 16 on a GPU, half the registers.
 */
export function conv2dTiles(
  p: Pick<Conv2dParams, "K" | "OW" | "tm" | "tn" | "wgx">,
): Required<Pick<Conv2dParams, "tm" | "tn" | "wgx">> {
  const r4 = (v: number) => Math.max(4, Math.ceil(v / 4) * 4);
  return {
    tm: r4(p.tm ?? Math.min(currentGemmVariant() === "blocked" ? 16 : 8, p.K)),
    tn: r4(p.tn ?? Math.min(16, p.OW)),
    wgx: p.wgx ?? 8,
  };
}

/**
 * vec4 loads that cover input columns 0..(tn - 1) * sw + (KW - 1) * dw of a block, read from
 * `shift` columns before its first one.
 */
export function rowVec4s(tn: number, sw: number, KW: number, dw: number, shift = 0): number {
  return Math.floor(((tn - 1) * sw + (KW - 1) * dw + shift) / 4) + 1;
}

/**
 * Width a padded input plane needs: at least `minWidth`, a multiple of 4,
 * and wide enough that the last block of `tn` output columns (stride `sw`,
 * `KW` taps `dw` apart) reads inside its row.
 */
export function paddedWidth(
  o: { minWidth: number; OW: number; tn: number; sw: number; KW: number; dw: number },
): number {
  const lastStart = (Math.ceil(o.OW / o.tn) - 1) * o.tn * o.sw;
  return Math.max(Math.ceil(o.minWidth / 4) * 4, lastStart + 4 * rowVec4s(o.tn, o.sw, o.KW, o.dw));
}

export const conv2dKernel = defineKernel<Conv2dParams>({
  name: "conv2d",
  // Tiles and row unrolling left out of the parameters follow the GEMM choice of the moment: key on them resolved.
  key: (p) => `conv2d:${JSON.stringify({ ...p, ...conv2dTiles(p), unrollRows: conv2dUnrollsRows(p) })}`,
  wgsl(p) {
    const { tm, tn, wgx } = conv2dTiles(p);
    const { cn = p.C } = p;
    const owb = Math.ceil(p.OW / tn);
    const { kCount = p.K } = p;
    const c0 = p.offsetsUniform ? "u.c0" : `${p.c0 ?? 0}u`, kBase = p.offsetsUniform ? "u.kBase" : `${p.kBase ?? 0}u`;
    const kp4 = Math.ceil(kCount / 4);
    const ip = p.implicitPad;
    if (ip && (p.sh !== 1 || p.sw !== 1)) {
      throw new Error(`conv2d reads an unpadded input at stride 1 only, got ${p.sh}x${p.sw}`);
    }
    // With implicit padding a row is read from `lv` vec4s before the block's first column, so pixel o of the
    // padded row is component o + shift of those loads.
    const lv = ip ? Math.ceil(ip.left / 4) : 0, shift = ip ? 4 * lv - ip.left : 0;
    const nv = rowVec4s(tn, p.sw, p.KW, p.dw, shift);
    // Loads of kernel row `kh` (a WGSL expression) of input channel ci: its input row as vec4s x{s}{v}, the weights of
    // its KW taps for the block's channels w{s}{kw}_{i/4}, and the KW shifted pixel vectors v{s}{kw}_{q}.
    const rowLoads = (kh: string, s: string): string[] => {
      const b: string[] = [];
      if (ip) {
        b.push(`let ri${s} = i32(oh + ${kh} * ${p.dh}u) - ${ip.top};`);
        b.push(`let rok${s} = ri${s} >= 0 && ri${s} < ${p.Hp};`);
        b.push(
          `let xr${s} = ((n * ${p.C}u + ${c0} + ci) * ${p.Hp}u + u32(clamp(ri${s}, 0, ${p.Hp - 1}))) * ${p.Wp / 4}u;`,
        );
      } else {
        b.push(
          `let xr${s} = (((n * ${p.C}u + ${c0} + ci) * ${p.Hp}u + oh * ${p.sh}u + ${kh} * ${p.dh}u) * ${p.Wp}u + ow0 * ${p.sw}u) / 4u;`,
        );
      }
      b.push(`let wr${s} = ((${p.wUniform ? "0u" : c0} + ci) * ${p.KH}u + ${kh}) * ${p.KW * kp4}u;`);
      for (let v = 0; v < nv; v++) {
        if (!ip) b.push(`let x${s}${v} = X[xr${s} + ${v}u];`);
        else {
          // Column vec4 q0 + v of the plane; zero outside it, or on a row outside it.
          const q = `q0 + ${v}`, last = p.Wp / 4 - 1;
          b.push(
            `let x${s}${v} = select(vec4<f32>(0.0), X[xr${s} + u32(clamp(${q}, 0, ${last}))], rok${s} && ${q} >= 0 && ${q} <= ${last});`,
          );
        }
      }
      for (let kw = 0; kw < p.KW; kw++) {
        for (let i = 0; i < tm; i += 4) b.push(`let w${s}${kw}_${i >> 2} = Wq[wr${s} + ${kw * kp4}u + wc${i >> 2}];`);
        for (let q = 0; q < tn / 4; q++) {
          const e = [0, 1, 2, 3].map((j) => {
            const o = (4 * q + j) * p.sw + kw * p.dw + shift;
            return `x${s}${o >> 2}.${"xyzw"[o & 3]}`;
          });
          b.push(`let v${s}${kw}_${q} = vec4<f32>(${e.join(", ")});`);
        }
      }
      return b;
    };
    // Each accumulator takes all the taps loaded before it in a row: with more accumulators than registers, it is
    // spilled and reloaded once per input channel (kernels of up to 3 rows, unrolled) or once per kernel row.
    const unrolled = conv2dUnrollsRows(p);
    const rows = unrolled ? Array.from({ length: p.KH }, (_, kh) => `${kh}_`) : [""];
    const body = unrolled ? rows.flatMap((s, kh) => rowLoads(`${kh}u`, s)) : rowLoads("kh", "");
    for (let i = 0; i < tm; i++) {
      for (let q = 0; q < tn / 4; q++) {
        for (const s of rows) {
          for (let kw = 0; kw < p.KW; kw++) {
            body.push(
              `a${i}_${q} = fma(vec4<f32>(w${s}${kw}_${i >> 2}.${"xyzw"[i & 3]}), v${s}${kw}_${q}, a${i}_${q});`,
            );
          }
        }
      }
    }
    const pre: string[] = [];
    for (let i = 0; i < tm; i += 4) pre.push(`let wc${i >> 2} = min(co0 - ${kBase} + ${i}u, ${4 * kp4 - 4}u) / 4u;`);
    for (let i = 0; i < tm; i++) for (let q = 0; q < tn / 4; q++) pre.push(`var a${i}_${q} = vec4<f32>(0.0);`);
    // Each storage access is a loop over the SIMD lanes: the bias is read once per channel, and rows of whole vec4s
    // (OW a multiple of 4; ow0 is one too) are stored as vec4s.
    const vecY = p.OW % 4 === 0;
    const store: string[] = [];
    for (let i = 0; i < tm; i++) {
      store.push(`if (co0 + ${i}u < ${p.K}u) {`);
      store.push(`let yb${i} = ((n * ${p.K}u + co0 + ${i}u) * ${p.OH}u + oh) * ${p.OW}u + ow0;`);
      if (p.bias) store.push(`let b${i} = Bs[co0 + ${i}u];`);
      const b = p.bias ? ` + b${i}` : "";
      if (vecY) {
        for (let q = 0; q < tn / 4; q++) {
          const y = `Y[yb${i} / 4u + ${q}u]`;
          store.push(`if (ow0 + ${4 * q}u < ${p.OW}u) { ${y} = ${p.accumulate ? `${y} + ` : ""}a${i}_${q}${b}; }`);
        }
      } else {
        for (let j = 0; j < tn; j++) {
          const y = `Y[yb${i} + ${j}u]`;
          const v = `${p.accumulate ? `${y} + ` : ""}a${i}_${j >> 2}.${"xyzw"[j & 3]}${b}`;
          store.push(`if (ow0 + ${j}u < ${p.OW}u) { ${y} = ${v}; }`);
        }
      }
      store.push("}");
    }
    return `@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) ${
      p.wUniform ? `var<uniform> Wq: array<vec4<f32>, ${p.wUniform}>` : "var<storage, read> Wq: array<vec4<f32>>"
    };
${p.bias ? "@group(0) @binding(2) var<storage, read> Bs: array<f32>;" : ""}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> Y: array<${vecY ? "vec4<f32>" : "f32"}>;
${
      p.offsetsUniform
        ? `struct U { c0: u32, kBase: u32 }
@group(0) @binding(${p.bias ? 4 : 3}) var<uniform> u: U;`
        : ""
    }
@compute @workgroup_size(${wgx})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let oh = g.x / ${owb}u;
  let ow0 = (g.x % ${owb}u) * ${tn}u;
  let co0 = ${kBase} + wg.y * ${tm}u;
  if (oh >= ${p.OH}u || co0 >= ${p.K}u) { return; }
  let n = wg.z;
  ${pre.join("\n  ")}
  ${ip ? `let q0 = i32(ow0 / 4u) - ${lv};` : ""}
  for (var ci = 0u; ci < ${cn}u; ci++) {
    ${unrolled ? "" : `for (var kh = 0u; kh < ${p.KH}u; kh++) {`}
      ${body.join("\n      ")}
    ${unrolled ? "" : "}"}
  }
  ${store.join("\n  ")}
}`;
  },
  dispatch(p) {
    const { tm, tn, wgx } = conv2dTiles(p);
    return [groups(Math.ceil(p.OW / tn) * p.OH, wgx), Math.ceil((p.kCount ?? p.K) / tm), p.N];
  },
});
