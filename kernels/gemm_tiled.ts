// For real GPUs: a 16 x 16 workgroup stages 64 x 16 and 16 x 64 tiles in workgroup memory, 4 x 4 of C per invocation.
import { groups } from "./kernel.ts";

export interface GemmTiledParams {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  broadcastA: boolean;
  broadcastB: boolean;
  accumulate: boolean;
}

const TILE = 64;
const BK = 16;
const WG = 16;
const PER = TILE / WG;

export function gemmTiledWgsl(p: GemmTiledParams): string {
  const { M, N, K } = p;
  const u = (x: number) => `${x}u`;
  // Tile loads walk the stored contiguous axis fastest, so neighbouring invocations read neighbouring words.
  const loadA = p.transA
    ? `let kq = e / ${u(TILE)}; let mq = e % ${u(TILE)};`
    : `let mq = e / ${u(BK)}; let kq = e % ${u(BK)};`;
  const aAt = p.transA ? "(kt + kq) * " + u(M) + " + row0 + mq" : "(row0 + mq) * " + u(K) + " + kt + kq";
  const loadB = p.transB
    ? `let nq = e / ${u(BK)}; let kq = e % ${u(BK)};`
    : `let kq = e / ${u(TILE)}; let nq = e % ${u(TILE)};`;
  const bAt = p.transB ? "(col0 + nq) * " + u(K) + " + kt + kq" : "(kt + kq) * " + u(N) + " + col0 + nq";
  const acc: string[] = [];
  const fmas: string[] = [];
  const stores: string[] = [];
  for (let i = 0; i < PER; i++) {
    for (let j = 0; j < PER; j++) {
      acc.push(`var c${i}_${j} = 0.0;`);
      fmas.push(`c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
      const m = `row0 + l.y + ${u(WG * i)}`, n = `col0 + l.x + ${u(WG * j)}`;
      const t = `C[cB + (${m}) * ${u(N)} + ${n}]`;
      stores.push(`if (${m} < ${u(M)} && ${n} < ${u(N)}) { ${t} = ${p.accumulate ? `${t} + ` : ""}c${i}_${j}; }`);
    }
  }
  const aLoads = Array.from({ length: PER }, (_, i) => `let a${i} = As[kq * ${u(TILE)} + l.y + ${u(WG * i)}];`);
  const bLoads = Array.from({ length: PER }, (_, j) => `let b${j} = Bs[kq * ${u(TILE)} + l.x + ${u(WG * j)}];`);
  return `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
var<workgroup> As: array<f32, ${TILE * BK}>;
var<workgroup> Bs: array<f32, ${TILE * BK}>;
@compute @workgroup_size(${WG}, ${WG})
fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row0 = w.y * ${u(TILE)};
  let col0 = w.x * ${u(TILE)};
  let aB = ${p.broadcastA ? "0u" : `w.z * ${u(M * K)}`};
  let bB = ${p.broadcastB ? "0u" : `w.z * ${u(K * N)}`};
  let cB = w.z * ${u(M * N)};
  ${acc.join(" ")}
  for (var kt = 0u; kt < ${u(K)}; kt += ${u(BK)}) {
    for (var e = li; e < ${u(TILE * BK)}; e += ${u(WG * WG)}) {
      {
        ${loadA}
        var v = 0.0;
        if (row0 + mq < ${u(M)} && kt + kq < ${u(K)}) { v = A[aB + ${aAt}]; }
        As[kq * ${u(TILE)} + mq] = v;
      }
      {
        ${loadB}
        var v = 0.0;
        if (col0 + nq < ${u(N)} && kt + kq < ${u(K)}) { v = B[bB + ${bAt}]; }
        Bs[kq * ${u(TILE)} + nq] = v;
      }
    }
    workgroupBarrier();
    for (var kq = 0u; kq < ${u(BK)}; kq++) {
      ${aLoads.join(" ")}
      ${bLoads.join(" ")}
      ${fmas.join(" ")}
    }
    workgroupBarrier();
  }
  ${stores.join("\n  ")}
}`;
}

export function gemmTiledDispatch(p: GemmTiledParams): [number, number, number] {
  return [groups(p.N, TILE), groups(p.M, TILE), p.batch];
}
