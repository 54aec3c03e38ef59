import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { rng } from "../_util.ts";
import { completeLossParams, LOSSES, lossNames, lossParamsProblem } from "../../losses/registry.ts";

const DIR = fileURLToPath(new URL("../../losses/", import.meta.url));

Deno.test("LOSSES lists every loss file's definition once, each with a strict schema", () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith(".ts"))) {
    const defined = [...readFileSync(DIR + file, "utf8").matchAll(/export const (\w+) = defineLoss\(/g)].map((m) =>
      m[1]
    );
    for (const name of defined) {
      assert.ok(lossNames.includes(name as never), `${name} of losses/${file} is not in LOSSES`);
    }
  }
  assert.equal(new Set(lossNames).size, LOSSES.length, `duplicate loss names: ${lossNames.join(", ")}`);
  for (const def of LOSSES) {
    const problem = lossParamsProblem(def.name, { loss_weight: 2, no_such_key: 1 }, { partial: true });
    assert.deepEqual(problem?.path, ["no_such_key"], `${def.name} accepts unknown keys`);
  }
});

Deno.test("completeLossParams() fills EQL's and the federated loss's counts from the training set, only where absent", () => {
  const r = rng(5);
  const c = 7;
  const stats = {
    imageCounts: Array.from({ length: c }, () => 1 + r.int(50)),
    instanceCounts: Array.from({ length: c }, () => 1 + r.int(500)),
    annotatedImages: 60 + r.int(100),
  };
  assert.deepEqual(completeLossParams("eql", { lambda: 0.1 }, stats), {
    lambda: 0.1,
    image_counts: stats.imageCounts,
    num_images: stats.annotatedImages,
  });
  assert.deepEqual(completeLossParams("eql", {}, { ...stats, annotatedImages: 0 }).num_images, 1);
  for (const given of [{ frequencies: [0.5] }, { freq_info: [0.5] }, { image_counts: [3], num_images: 9 }]) {
    assert.deepEqual(completeLossParams("eql", given, stats), given);
  }
  assert.deepEqual(completeLossParams("federated", { seed: 2 }, stats), { seed: 2, image_counts: stats.imageCounts });
  assert.deepEqual(completeLossParams("federated", { image_counts: [1, 2] }, stats), { image_counts: [1, 2] });
  assert.deepEqual(completeLossParams("eqlv2", { gamma: 10 }, stats), { gamma: 10 });
});

Deno.test("lossParamsProblem() names keys as written, and a plan need not give what the training set supplies", () => {
  assert.deepEqual(lossParamsProblem("eql", { lambda_: 2 })?.path, ["lambda_"]);
  assert.equal(lossParamsProblem("eql", { lambda_: 0.5 }), null);
  assert.deepEqual(lossParamsProblem("federated", {})?.path, ["image_counts"]);
  assert.equal(lossParamsProblem("federated", {}, { forPlan: true }), null);
  assert.deepEqual(lossParamsProblem("federated", { num_sample_cats: 0 }, { forPlan: true })?.path, [
    "num_sample_cats",
  ]);
  const unknown = lossParamsProblem("seesaw", { p: 0.8, qq: 2 })!;
  assert.deepEqual([unknown.path, unknown.value], [["qq"], 2]);
  assert.match(unknown.message, /not a parameter of the seesaw loss \(expected loss_weight, p, q, eps\)/);
});
