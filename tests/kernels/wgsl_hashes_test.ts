import assert from "node:assert/strict";
import { gpuTest } from "../_util.ts";
import { KERNELS } from "../../kernels/registry.ts";
import { HASHES_FILE, lossCases, opCases, type WgslCase, wgslHashes } from "./_wgsl_cases.ts";

// A change that only moves code must leave every kernel's WGSL byte for byte as it was. To change
// WGSL on purpose: `deno run -A tests/kernels/update_wgsl_hashes.ts`, and say so in the commit.
const pinned: Record<string, string> = JSON.parse(Deno.readTextFileSync(HASHES_FILE));
const isOpLabel = (label: string) => /^\S+ #\d+$/.test(label);

async function assertPinned(cases: WgslCase[], ours: (label: string) => boolean, kernels: string[]): Promise<void> {
  const got = await wgslHashes(cases);
  const changed = Object.keys(got).filter((label) => got[label] !== pinned[label]);
  const gone = Object.keys(pinned).filter((label) => ours(label) && !(label in got));
  assert.deepEqual({ changed: changed.slice(0, 20), gone: gone.slice(0, 20) }, { changed: [], gone: [] });
  const covered = new Set(cases.map((c) => c.kernel.name));
  assert.deepEqual(kernels.filter((n) => !covered.has(n)), [], "kernels without a WGSL case");
}

Deno.test("every registered op kernel generates the WGSL pinned in wgsl_hashes.json", async () => {
  const kernels = KERNELS.map((k) => k.name).filter((n) => !n.startsWith("loss_"));
  await assertPinned(opCases(), isOpLabel, kernels);
});

gpuTest("every registered loss dispatches the loss kernels' WGSL pinned in wgsl_hashes.json", async () => {
  const kernels = KERNELS.map((k) => k.name).filter((n) => n.startsWith("loss_"));
  await assertPinned(await lossCases(), (label) => !isOpLabel(label), kernels);
});
