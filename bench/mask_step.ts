/**
 * What the mask branch costs a training step (issue 17: at most 2x): the
 * `small` preset with its mask head and mask targets against the same
 * preset without a mask head, on the same batches of the synthetic set,
 * stepped in alternation (`timePaired`), the order swapped every round.
 *
 *   deno run -A bench/mask_step.ts <synthetic dir> [rounds=12] [batch=4] [preset=small]
 *
 * The synthetic dir comes from `deno task data synth --preset default --out <dir>`. Batches
 * are decoded (and their masks rasterised) before timing, so both sides time the detector
 * step only: forward, mask targets, backward and SGD. Each round is one step of each.
 */
import { join } from "node:path";
import process from "node:process";
import { Rng } from "../core/rng.ts";
import { ingestDataset } from "../data/ingest_dataset.ts";
import { createLoss } from "../losses/registry.ts";
import { detectorConfig } from "../model/config.ts";
import { Detector } from "../model/detector.ts";
import { classifierPrior, type TrainingBatch } from "../model/trainer.ts";
import { trainingData } from "../model/training_data.ts";
import { backward } from "../tensor/ops.ts";
import { SGD } from "../tensor/optim.ts";
import { initTensors, tidyAsync } from "../tensor/tensor.ts";
import { timePaired } from "./_step_timing.ts";

const [dir, rounds = "12", batch = "4", preset = "small"] = Deno.args;
await initTensors();
const { dataset } = await ingestDataset(join(dir, "annotations", "lvis_v1_train.json"), { masks: true });
const C = dataset.categories.count;
const data = trainingData({ dataset, seed: 1, repeatThreshold: 0.001, masks: true });
const pool: TrainingBatch[] = [];
const stream = data.stream(data.epochOrder(0).slice(0, 8 * Number(batch)), Number(batch), 1);
for await (const b of stream) pool.push(b);
stream.close();

/** A trainer of `preset` with or without its mask head, cycling through the pool. */
function runner(masks: boolean) {
  const base = detectorConfig(preset);
  const config = masks ? base : { ...base, maskHead: null };
  const loss = createLoss("eqlv2", {}, { numClasses: C });
  const det = new Detector(config, C, loss.columns, new Rng(1), classifierPrior("eqlv2"), { loss: "eqlv2" });
  det.build();
  const opt = new SGD(det.params.trainable().map(([, t]) => t), { lr: 0.02, momentum: 0.9, clipNorm: 10 });
  let at = 0;
  const parts: Record<string, number> = {};
  return {
    name: masks ? "with mask head" : "box only",
    parts,
    async steps(n: number): Promise<number> {
      let last = 0;
      for (let i = 0; i < n; i++, at++) {
        const b = pool[at % pool.length];
        const targets = masks ? b.targets : b.targets.map(({ boxes, labels }) => ({ boxes, labels }));
        last = await tidyAsync(async () => {
          const l = await det.losses(b.batch, targets, loss, new Rng(at));
          const total = (await l.total.toF32())[0];
          if (l.mask) parts.mask = (await l.mask.toF32())[0];
          backward(l.total, undefined, { releaseGraph: true });
          opt.step(0.02);
          opt.zeroGrad();
          return total;
        });
      }
      return last;
    },
  };
}

const box = runner(false), mask = runner(true);
const t = timePaired(box, mask, Number(rounds), 1);
const r = await t;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const load = Deno.loadavg().map((v) => v.toFixed(1)).join(" ");
console.log(`${preset}, batch ${batch}, ${rounds} rounds, load ${load}, ${process.arch}`);
console.log(`box only:        median ${median(r.aMs).toFixed(0)} ms/step`);
console.log(
  `with mask head:  median ${median(r.bMs).toFixed(0)} ms/step (last mask loss ${mask.parts.mask?.toFixed(3)})`,
);
console.log(`ratio mask/box:  ${r.ratio.toFixed(2)} (geometric mean; rounds ${r.min.toFixed(2)}-${r.max.toFixed(2)})`);
