/** bench/loss_table.ts: rows from a run folder, training minutes from the stage records of skipped stages too. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { collectRows, markdownTable } from "../../bench/loss_table.ts";
import { rng } from "../_util.ts";

Deno.test("collectRows() takes a skipped stage's training time from its record, adding the first stage to a retrain", async () => {
  const r = rng(7);
  const dir = await Deno.makeTempDir({ prefix: "tailor_loss_table_" });
  const write = (path: string, v: unknown) => Deno.writeTextFileSync(join(dir, path), JSON.stringify(v));
  const [train, retrain, ran] = [r.uniform(100, 900), r.uniform(10, 90), r.uniform(100, 900)];
  for (const d of ["train", "retrain", "other"]) Deno.mkdirSync(join(dir, d));
  write("train/_stage.json", { seconds: train });
  write("retrain/_stage.json", { seconds: retrain });
  const box = { AP: r.float(), AP50: r.float(), APr: r.float(), APc: r.float(), APf: r.float(), "AR@300": r.float() };
  write("box.json", { results: box });
  write("manifest.json", {
    stages: {
      // Skipped in the last run: no seconds in the manifest, only in the stage's own record.
      "train[loss=bce,seed=1]": { kind: "train", status: "skipped", outputs: { model: join(dir, "train") } },
      "train[loss=eqlv2,seed=1]": { kind: "train", seconds: ran, outputs: { model: join(dir, "other") } },
      "retrain[loss=bce,method=crt,seed=1]": { kind: "retrain", outputs: { model: join(dir, "retrain") } },
      "eval[loss=bce,seed=1]": { kind: "eval", outputs: { metrics: join(dir, "box.json") } },
      "eval[loss=eqlv2,seed=1]": { kind: "eval", outputs: { metrics: join(dir, "box.json") } },
      "eval_retrain[loss=bce,method=crt,seed=1]": { kind: "eval", outputs: { metrics: join(dir, "box.json") } },
    },
  });
  const rows = collectRows(dir);
  assert.deepEqual(rows.map((x) => [x.loss, x.trainSeconds]), [["bce", train], ["eqlv2", ran], [
    "crt",
    train + retrain,
  ]]);
  assert.equal(rows[0].values["box APr"], box.APr);
  assert.ok(markdownTable(rows).includes(`| bce | 1 | ${(100 * box.AP).toFixed(2)} |`));
});
