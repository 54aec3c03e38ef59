/**
 * Rewrites `wgsl_hashes.json` from the current kernels: run it when a
 * change to generated WGSL is intended, and say so in the commit. The loss
 * cases need a WebGPU adapter.
 *
 * ```sh
 * deno run -A tests/kernels/update_wgsl_hashes.ts
 * ```
 */
import { HASHES_FILE, lossCases, opCases, wgslHashes } from "./_wgsl_cases.ts";

const hashes = await wgslHashes([...opCases(), ...await lossCases()]);
Deno.writeTextFileSync(HASHES_FILE, JSON.stringify(hashes, null, 2) + "\n");
console.log(`${Object.keys(hashes).length} WGSL hashes written to ${HASHES_FILE}`);
