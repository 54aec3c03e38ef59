/** Loading the official EQL / EQL v2 fixtures (see /work/shared/fixtures/README.md). */
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";

export const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/", import.meta.url));

export interface FixtureState {
  pos_grad: number[];
  neg_grad: number[];
  pos_neg: number[];
}

export interface FixtureStep {
  logits: number[][];
  labels: number[];
  weight: number[][];
  loss: number;
  grad_logits: number[][];
  state_before?: FixtureState;
  state_after?: FixtureState;
  pos_w_per_channel?: number[];
  neg_w_per_channel?: number[];
  scores_test_with_obj?: number[][];
  scores_test_without_obj?: number[][];
  threshold_per_class?: number[];
}

export interface Fixture {
  num_classes: number;
  num_channels: number;
  params: Record<string, unknown>;
  freq_info?: number[];
  initial_state?: FixtureState;
  steps: FixtureStep[];
}

export function loadFixture(loss: "eqlv2" | "eql", dtype: "float64" | "float32"): Fixture {
  return JSON.parse(readFileSync(`${FIXTURES}${loss}/c8_default_${dtype}.json`, "utf8"));
}
