import assert from "node:assert/strict";
import { join } from "node:path";
import { ignoredByReason, ignoredSummary, notRunName } from "./_run.ts";

Deno.test("ignoredByReason() groups deno test's ignored lines by the reason in their names", () => {
  const gpu = "no WebGPU adapter; install mesa-vulkan-drivers";
  const lines = [
    `./tests/a_test.ts => ${notRunName("gemm matches float64", gpu)} ... \x1b[33mignored\x1b[0m (0ms)`,
    `${notRunName("conv matches float64", gpu)} ... ignored (0ms)`,
    `./tests/b_test.ts => the report loads ${notRunName("in chromium", "no chromium on PATH")} ... ignored (0ms)`,
    "./tests/c_test.ts => a test someone switched off ... ignored (0ms)",
    "./tests/c_test.ts => a test that ran ... ok (3ms)",
    "ok | 1 passed | 0 failed | 4 ignored (1s)",
  ];
  const got = ignoredByReason(lines);
  assert.deepEqual([...got.keys()], [gpu, "no chromium on PATH", ""]);
  assert.deepEqual(got.get(gpu), ["gemm matches float64", "conv matches float64"]);
  assert.deepEqual(ignoredSummary(got), [
    `2 GPU tests not run: ${gpu}`,
    "1 test not run: no chromium on PATH",
    '1 test ignored without a reason: "a test someone switched off"',
  ]);
  assert.deepEqual(ignoredSummary(ignoredByReason(lines.slice(4))), []);
});

Deno.test("the README's test command ends with how many tests did not run and why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_run_" });
  try {
    const file = join(dir, "skips_test.ts");
    const run = new URL("./_run.ts", import.meta.url).href;
    await Deno.writeTextFile(
      file,
      `import { notRunName } from ${JSON.stringify(run)};
Deno.test("runs", () => {});
Deno.test({ name: notRunName("needs a GPU", "no WebGPU adapter; install mesa-vulkan-drivers"), ignore: true, fn() {} });
Deno.test({ name: notRunName("needs a GPU too", "no WebGPU adapter; install mesa-vulkan-drivers"), ignore: true, fn() {} });
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-run=deno", new URL("./_run.ts", import.meta.url).pathname, "deno", "test", file],
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(text, /ok \| 1 passed \| 0 failed \| 2 ignored/);
    assert.match(text, /\n2 GPU tests not run: no WebGPU adapter; install mesa-vulkan-drivers\nNot a full pass/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
