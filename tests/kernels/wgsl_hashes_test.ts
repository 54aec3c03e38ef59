import assert from "node:assert/strict";
import { KERNELS } from "../../kernels/registry.ts";
import { HASHES_FILE, lossCases, opCases, wgslHashes } from "./_wgsl_cases.ts";

// A change that only moves code must leave every kernel's WGSL byte for byte as it was. To change
// WGSL on purpose: `deno run --allow-read --allow-write=tests/kernels tests/kernels/update_wgsl_hashes.ts`.
Deno.test("every registered kernel generates the WGSL pinned in wgsl_hashes.json", async () => {
  const cases = [...opCases(), ...lossCases()];
  const pinned: Record<string, string> = JSON.parse(Deno.readTextFileSync(HASHES_FILE));
  const got = await wgslHashes(cases);
  const changed = Object.keys(pinned).filter((label) => got[label] !== pinned[label]);
  const added = Object.keys(got).filter((label) => !(label in pinned));
  assert.deepEqual({ changed: changed.slice(0, 20), added: added.slice(0, 20) }, { changed: [], added: [] });
  const covered = new Set(cases.map((c) => c.kernel.name));
  assert.deepEqual(KERNELS.map((k) => k.name).filter((n) => !covered.has(n)), [], "kernels without a WGSL case");
});
