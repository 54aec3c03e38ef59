/**
 * wgpu's GL backend, the one Deno falls back to without a Vulkan driver. It
 * needs its own process (Deno picks the backend once), so the texture GEMM
 * test runs again in a child on GL: a 2d-array view of a one-layer texture
 * read zeros there and logged a warning per bind, until the pool gave such
 * textures a second layer (`glTextureLayers`).
 */
import assert from "node:assert/strict";
import { notRunName } from "../_run.ts";

const env = { DENO_WEBGPU_BACKEND: "gl", NO_COLOR: "1" };

async function glAdapter(): Promise<boolean> {
  const probe = "const a = await navigator.gpu?.requestAdapter(); console.log(a ? 'yes' : 'no');";
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", probe], env, stdout: "piped", stderr: "null" })
    .output();
  return new TextDecoder().decode(out.stdout).trim() === "yes";
}

const available = await glAdapter();
const name = "texture GEMMs are right on the GL backend, and it logs no texture warning";

Deno.test({
  name: available ? name : notRunName(name, "no WebGPU adapter on the GL backend"),
  ignore: !available,
  async fn() {
    const test = new URL("../tensor/gemm_test.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-read", "--allow-env", "--allow-ffi", "--allow-sys", "--filter", "texture", test],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /2 passed \| 0 failed/);
    assert.doesNotMatch(text, /wgpu-hal heuristics/);
  },
});
