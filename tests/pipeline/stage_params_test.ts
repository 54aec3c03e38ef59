import assert from "node:assert/strict";
import { InputErrors } from "../../core/errors.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { PRESETS } from "../../model/config.ts";
import { defaultRegistry } from "../../tasks/registry.ts";

const TRAIN = "examples/coco_tiny/annotations/instances_train.json";

/** Every problem a plan of `train` with these `with:` lines reports. */
function trainProblems(lines: string[]): string[] {
  const text = `stages:\n  train:\n    uses: train\n    with:\n      dataset: ${TRAIN}\n` +
    lines.map((l) => `      ${l}\n`).join("");
  try {
    planPipeline(parsePipeline("p.yaml", text), defaultRegistry(), { checkInputs: true });
  } catch (e) {
    return e instanceof InputErrors ? [...e.problems] : [(e as Error).message];
  }
  return [];
}

Deno.test("the train stage's preset, model overrides, schedule and loss parameters fail at planning, together", () => {
  assert.deepEqual(trainProblems([]), []);
  const problems = trainProblems([
    "model: r50",
    "lr: -1",
    "loss: eqlv2",
    "lossParams: {alpah: 4}",
  ]);
  const known = Object.keys(PRESETS).join(", ");
  assert.deepEqual(problems, [
    `p.yaml:6:14: Invalid "stages.train.with.model": unknown model preset (known: ${known}) (got "r50") ` +
    `(stage kind "train")`,
    `p.yaml:7:11: Invalid "stages.train.with.lr": expected a schedule object like { base: 0.02, warmupIters: 50, ` +
    `decay: cosine }, received number (got -1) (stage kind "train")`,
    `p.yaml:9:27: Invalid "stages.train.with.lossParams.alpah": not a parameter of the eqlv2 loss ` +
    `(expected loss_weight, gamma, mu, alpha, test_with_obj) (got 4) (stage kind "train")`,
  ]);
  const overrides = trainProblems(["model: small", "modelOverrides: {fpn: yes}"]);
  assert.equal(overrides.length, 1, overrides.join("\n"));
  assert.match(
    overrides[0],
    /^p\.yaml:7:\d+: Invalid "stages\.train\.with\.modelOverrides\.fpn": .*boolean.*preset small/,
  );
});
