import assert from "node:assert/strict";
import { InputError } from "../../core/errors.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import { defaultRegistry } from "../../tasks/registry.ts";

/** Plan a one-stage pipeline whose train stage has these `with:` lines (6 spaces in). */
function plan(lines: string) {
  const text = `stages:\n  train:\n    uses: train\n    with:\n      dataset: d.json\n${lines}`;
  return planPipeline(parsePipeline("p.yaml", text), defaultRegistry());
}

function errorOf(lines: string): string {
  try {
    plan(lines);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    return e.message;
  }
  throw new Error("expected an error");
}

const cases: [string, string, RegExp][] = [
  [
    "a misspelt key of the chosen loss",
    "      loss: eqlv2\n      lossParams:\n        gamma: 12\n        alpah: 4\n",
    /^p\.yaml:9:16: Invalid "stages\.train\.with\.lossParams\.alpah": not a parameter of the eqlv2 loss \(expected loss_weight, gamma, mu, alpha, test_with_obj\) \(got 4\)/,
  ],
  [
    "a value out of range",
    "      loss: focal\n      lossParams: { gamma: -1 }\n",
    /^p\.yaml:7:28: Invalid "stages\.train\.with\.lossParams\.gamma": Too small: expected number to be >=0 \(got -1\)/,
  ],
  [
    "a key written under an alias",
    "      loss: eql\n      lossParams: { lambda_: 5 }\n",
    /^p\.yaml:7:30: Invalid "stages\.train\.with\.lossParams\.lambda_": Too big: expected number to be <1 \(got 5\)/,
  ],
  [
    "a misspelt key of the chosen loss given per loss",
    "      loss: eql\n      lossParamsByLoss:\n        eql: { lamda: 0.03 }\n",
    /^p\.yaml:8:23: Invalid "stages\.train\.with\.lossParamsByLoss\.eql\.lamda": not a parameter of the eql loss/,
  ],
  [
    "a misspelt key of another loss",
    "      loss: bce\n      lossParamsByLoss:\n        eqlv2: { gamma: 12 }\n        seesaw: { pp: 0.8 }\n",
    /^p\.yaml:9:23: Invalid "stages\.train\.with\.lossParamsByLoss\.seesaw\.pp": not a parameter of the seesaw loss/,
  ],
  [
    "an unknown loss in lossParamsByLoss",
    "      lossParamsByLoss:\n        eqlv3: { gamma: 12 }\n",
    /^p\.yaml:7:16: Invalid "stages\.train\.with\.lossParamsByLoss\.eqlv3": unknown loss \(expected one of bce, ce, focal, eqlv2, eql, seesaw, federated, efl, bags\)/,
  ],
  [
    "an unknown loss",
    "      loss: eqvl2\n",
    /^p\.yaml:6:13: Invalid "stages\.train\.with\.loss": .*"eqlv2".* \(got "eqvl2"\)/,
  ],
];

for (const [what, lines, want] of cases) {
  Deno.test(`the train stage's plan refuses ${what}, naming the key, the value and the line`, () => {
    assert.match(errorOf(lines), want);
  });
}

Deno.test("the train stage's plan accepts loss parameters that the training set completes later", () => {
  const ok = [
    "      loss: federated\n      lossParams: { num_sample_cats: 20 }\n",
    "      loss: eql\n      lossParams: { lambda: 0.03 }\n",
    "      loss: eql\n      lossParamsByLoss: { eql: { lambda_: 0.03 }, federated: { seed: 3 } }\n",
  ];
  for (const lines of ok) assert.equal(plan(lines).stages.length, 1, lines);
});
