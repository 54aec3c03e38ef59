// The block store shared by the register-blocked GEMMs: rows m0 .. m0 + tm - 1, vec4 columns g0 .. g{tn/4 - 1}.
import type { GemmParams } from "./gemm_params.ts";

/** WGSL statements that store (or, accumulating, add) the block into C, skipping rows and columns past M and N. */
export function blockStores(p: Pick<Required<GemmParams>, "M" | "N" | "tm" | "tn" | "accumulate">): string[] {
  const { M, N } = p;
  const add = (t: string) => (p.accumulate ? `${t} + ` : "");
  const store: string[] = [];
  for (let i = 0; i < p.tm; i++) {
    const row = `m0 + ${i}u`;
    for (let j = 0; j < p.tn / 4; j++) {
      if (N % 4 === 0) {
        const t = `C[cB / 4u + (${row}) * ${N / 4}u + g${j}]`;
        store.push(`if (${row} < ${M}u && g${j} < ${N / 4}u) { ${t} = ${add(t)}c${i}_${j}; }`);
      } else {
        for (let c = 0; c < 4; c++) {
          const col = `g${j} * 4u + ${c}u`;
          const t = `C[cB + (${row}) * ${N}u + ${col}]`;
          store.push(`if (${row} < ${M}u && ${col} < ${N}u) { ${t} = ${add(t)}c${i}_${j}[${c}]; }`);
        }
      }
    }
  }
  return store;
}
