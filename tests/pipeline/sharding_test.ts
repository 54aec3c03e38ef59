import assert from "node:assert/strict";
import { InputError } from "../../core/errors.ts";
import { parsePipeline } from "../../pipeline/pipeline_file.ts";
import { planPipeline } from "../../pipeline/plan.ts";
import type { OutputRef } from "../../pipeline/refs.ts";
import { defaultRegistry } from "../../tasks/registry.ts";
import { checkShardOrder, shardRange } from "../../pipeline/sharding.ts";
import { rng, SEED } from "../_util.ts";

Deno.test(`shardRange() cuts contiguous, disjoint, covering slices at whole batches (seed ${SEED})`, () => {
  const r = rng(11);
  for (let trial = 0; trial < 200; trial++) {
    const items = 1 + r.int(60), unit = 1 + r.int(6), count = 1 + r.int(items);
    let next = 0;
    for (let index = 0; index < count; index++) {
      const [start, end] = shardRange(items, { index, count }, unit, "images");
      assert.equal(start, next, `${items} items, ${count} shards of batches of ${unit}`);
      assert.ok(end >= start);
      if (end < items) assert.equal(end % unit, 0, "a cut inside a batch");
      next = end;
    }
    assert.equal(next, items);
    // As even as whole batches allow: no two parts differ by more than one batch.
    const sizes = Array.from({ length: count }, (_, index) => {
      const [a, b] = shardRange(items, { index, count }, unit, "images");
      return Math.ceil(b / unit) - Math.ceil(a / unit);
    });
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${sizes}`);
  }
  assert.throws(
    () => shardRange(5, { index: 0, count: 6 }, 2, 'images in "val.json"'),
    (e) =>
      e instanceof InputError &&
      e.message === 'Invalid shards: 6: more shards than the 5 images in "val.json" to share out',
  );
  assert.throws(
    () => checkShardOrder([{ index: 1, count: 2 }, { index: 0, count: 2 }], ["a", "b"]),
    /"a": it is shard 1 of 2/,
  );
});

const text = `stages:
  data: {uses: synth, with: {preset: ci}}
  predict:
    uses: predict
    matrix: {seed: [1, 2]}
    shards: 3
    with: {model: m, dataset: "\${data.valJson}"}
  eval:
    uses: eval
    matrix: {seed: [1, 2]}
    with: {gt: "\${data.valJson}", dt: "\${predict.results}"}
`;

Deno.test("planPipeline() expands shards: N into N parts and a merge that keeps the stage's id and outputs", () => {
  const plan = planPipeline(parsePipeline("p.yaml", text), defaultRegistry());
  const ids = plan.stages.map((s) => s.id);
  const parts = (seed: number) => [0, 1, 2].map((i) => `predict[seed=${seed}].shard-${i}-of-3`);
  assert.deepEqual(ids.filter((id) => id.startsWith("predict")), [
    ...parts(1),
    "predict[seed=1]",
    ...parts(2),
    "predict[seed=2]",
  ]);
  for (const [i, id] of parts(2).entries()) {
    const part = plan.byId.get(id)!;
    assert.equal(part.kind.kind, "predict-part");
    assert.deepEqual(part.part, { index: i, count: 3 });
    assert.deepEqual((part.params as { shard: unknown }).shard, { index: i, count: 3 });
    assert.deepEqual(part.deps, ["data"]);
    assert.equal(part.dir, `predict@seed=2.shard-${i}-of-3`);
  }
  const merge = plan.byId.get("predict[seed=2]")!;
  assert.equal(merge.kind.kind, "predict-merge");
  assert.deepEqual(
    (merge.params as { parts: OutputRef[] }).parts.map((r) => [r.stageId, r.output]),
    parts(2).map((id) => [id, "part"]),
  );
  assert.deepEqual([...merge.deps].sort(), ["data", ...parts(2)].sort());
  // Downstream stages see the merge as the stage: same id, same outputs, the same matrix instance.
  assert.deepEqual(plan.byId.get("eval[seed=2]")!.deps.sort(), ["data", "predict[seed=2]"]);
  assert.equal((plan.byId.get("eval[seed=1]")!.params as { dt: OutputRef }).dt.stageId, "predict[seed=1]");
});

Deno.test("bad shards: 0, a kind that cannot be sharded, and a bad --set name the place", () => {
  const error = (t: string, sets: string[] = []) => {
    try {
      planPipeline(parsePipeline("p.yaml", t, sets), defaultRegistry());
    } catch (e) {
      assert.ok(e instanceof InputError, String(e));
      return e.message;
    }
    throw new Error("expected an error");
  };
  assert.match(
    error(text.replace("shards: 3", "shards: 0")),
    /^p\.yaml:6:5: Invalid "stages\.predict\.shards": Too small/,
  );
  assert.match(error(text.replace("shards: 3", "shards: 1.5")), /^p\.yaml:6:5: Invalid "stages\.predict\.shards"/);
  assert.equal(
    error(text, ["data.shards=2"]),
    '--set "data.shards=2": Stage kind "synth" cannot run in shards (kinds that can: eval, predict)',
  );
  assert.match(error(text, ["eval.shards=-1"]), /^--set "eval\.shards=-1": Invalid "stages\.eval\.shards"/);
});
