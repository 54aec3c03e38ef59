import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest, randomArray, rng } from "../_util.ts";
import { Rng } from "../../core/rng.ts";
import { detectorConfig } from "../../model/config.ts";
import { Detector } from "../../model/detector.ts";
import { type NamedArray, readSafetensors, writeSafetensors } from "../../model/checkpoint/safetensors.ts";
import { loadWeights } from "../../model/trainer.ts";

gpuTest("loadWeights() loads matching tensors from a safetensors file and names every mismatch", async () => {
  const r = rng(77);
  const det = new Detector(detectorConfig("tiny"), 5, 6, new Rng(1));
  det.build();
  const params = det.params.entries();
  const [goodName, good] = params[0];
  const [badName, bad] = params[1];
  const goodData = Float32Array.from(randomArray(r, good.size));
  const file = join(await Deno.makeTempDir(), "init.safetensors");
  const tensors = new Map<string, NamedArray>([
    [goodName, { shape: [...good.shape], data: goodData }],
    [badName, { shape: [bad.size + 1], data: new Float32Array(bad.size + 1) }],
    ["backbone.not_a_layer.weight", { shape: [2, 3], data: new Float32Array(6) }],
  ]);
  await writeSafetensors(file, tensors);
  const loaded = (await readSafetensors(file)).tensors;

  const problems = loadWeights(det, loaded, { source: file, strict: false });
  assert.deepEqual(Array.from(await good.toF32()), Array.from(goodData));
  assert.ok(
    problems.some((p) => p.includes(`"${badName}" is [${bad.size + 1}] in the file, [${bad.shape}] in the model`)),
  );
  assert.ok(problems.includes('unknown "backbone.not_a_layer.weight" [2,3]'));
  assert.equal(problems.filter((p) => p.startsWith("missing")).length, params.length - 2);
  assert.throws(
    () => loadWeights(det, loaded, { source: file, strict: true }),
    (e: Error) => e.message.startsWith(`Weights in "${file}" do not match the model: `) && e.message.includes(badName),
  );
  det.params.dispose();
});
