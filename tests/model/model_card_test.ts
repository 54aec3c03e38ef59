import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../../core/errors.ts";
import { detectorConfig } from "../../model/config.ts";
import { type ModelCard, readModelCard, writeModelCard } from "../../model/model_card.ts";

Deno.test("writeModelCard() and readModelCard() round-trip a card; a missing card names its file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tailor_card_" });
  const card: ModelCard = {
    preset: "tiny",
    config: detectorConfig("tiny"),
    loss: "eql",
    lossParams: { lambda: 0.03, image_counts: [4, 0, 9], num_images: 12 },
    numClasses: 3,
    categoryIds: [5, 2, 11],
    lossState: { loss: "eql", num_classes: 3, pos_grad: [0.5, 0, 1], neg_grad: [2, 1, 3], ratio: [0.25, 0, 1 / 3] },
  };
  await writeModelCard(dir, card);
  assert.deepEqual(await readModelCard(dir), card);
  const missing = join(dir, "nowhere");
  await assert.rejects(
    () => readModelCard(missing),
    (e: Error) => e instanceof InputError && e.message.startsWith(`Cannot read "${join(missing, "model.json")}"`),
  );
  await Deno.remove(dir, { recursive: true });
});
