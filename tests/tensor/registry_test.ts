import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { KERNEL_FILES, kernelByName, KERNELS } from "../../kernels/registry.ts";

const DIR = fileURLToPath(new URL("../../kernels/", import.meta.url));

function kernelFiles(sub = ""): string[] {
  return readdirSync(DIR + sub, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? kernelFiles(`${sub}${e.name}/`) : e.name.endsWith(".ts") ? [`${sub}${e.name}`] : []
  );
}

Deno.test("kernel registry lists every exported kernel of every file in kernels/", () => {
  for (const file of kernelFiles()) {
    const exported = [...readFileSync(DIR + file, "utf8").matchAll(/export const (\w+)\s*=\s*defineKernel/g)].map((m) =>
      m[1]
    );
    if (exported.length === 0) continue;
    assert.ok(KERNEL_FILES.includes(file), `kernels/${file} defines kernels but is not in kernels/registry.ts`);
    for (const name of exported) {
      assert.ok(KERNELS.some((k) => k.file === file && k.exportName === name), `${name} of kernels/${file} is missing`);
    }
  }
});

Deno.test("kernel registry names are unique and resolve to their kernel", () => {
  const names = KERNELS.map((k) => k.name);
  assert.equal(new Set(names).size, names.length, `duplicate kernel names: ${names.join(", ")}`);
  for (const k of KERNELS) assert.equal(kernelByName(k.name), k.kernel);
  assert.throws(() => kernelByName("no_such_kernel"), /No kernel is named "no_such_kernel"/);
});
