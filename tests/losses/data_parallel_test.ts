/**
 * Data-parallel training, simulated in one process: N workers each take a
 * slice of every batch through a linear classification head and EQL v2,
 * their logits gradients normalised by the global batch size, their weight
 * gradients summed, and their step statistics summed through the loss's
 * `allReduce` hook. After 5 SGD steps every worker's weights and EQL v2
 * state equal the single worker's on the whole batches, to float32
 * tolerance. Two controls show the check has teeth: a per-worker normaliser,
 * or no statistics all-reduce, leaves the workers far from the single one.
 *
 * Exact at this level, not for the whole detector: its RoI sampling draws
 * per batch from one generator, so slices of a batch would draw other RoIs.
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest, randomArray, rng, SEED } from "../_util.ts";
import type { Rng } from "../../core/rng.ts";
import { createLoss } from "../../losses/registry.ts";
import type { ClassificationLoss, LossState } from "../../losses/loss.ts";
import { noGrad } from "../../tensor/autograd.ts";
import { add, backward, matmul } from "../../tensor/ops.ts";
import { parameter, SGD } from "../../tensor/optim.ts";
import { rt, Tensor, tidy } from "../../tensor/tensor.ts";

const C = 9, D = 12, ROWS = 37, STEPS = 5;
const LOSS_PARAMS = { gamma: 12, mu: 0.8, alpha: 4 };

interface Batch {
  x: Float64Array;
  labels: Int32Array;
}

interface Worker {
  w: Tensor;
  b: Tensor;
  loss: ClassificationLoss;
  opt: SGD;
}

function batches(r: Rng): Batch[] {
  return Array.from({ length: STEPS }, () => ({
    x: randomArray(r, ROWS * D),
    // Half background rows, as a detector's sampled RoIs are.
    labels: Int32Array.from({ length: ROWS }, () => (r.float() < 0.5 ? C : r.int(C))),
  }));
}

function worker(init: { w: Float64Array; b: Float64Array }): Worker {
  const w = parameter(init.w, [D, C + 1]), b = parameter(init.b, [C + 1]);
  return {
    w,
    b,
    loss: createLoss("eqlv2", LOSS_PARAMS, { numClasses: C }),
    opt: new SGD([w, b], { lr: 0.5, momentum: 0.9 }),
  };
}

function logits(k: Worker, batch: Batch, rows: [number, number]): Tensor {
  const x = Tensor.from(batch.x.subarray(rows[0] * D, rows[1] * D), [rows[1] - rows[0], D]);
  return add(matmul(x, k.w), k.b);
}

/** Rows [start, end) of each of `n` workers: uneven, none empty. */
function slices(r: Rng, n: number): [number, number][] {
  const cuts = new Set<number>();
  while (cuts.size < n - 1) cuts.add(1 + r.int(ROWS - 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), ROWS];
  return points.slice(1).map((end, i) => [points[i], end]);
}

/**
 * Train `n` workers for the batches; `globalNorm` and `reduceStats` switch off the two things data parallelism
 * needs, for the controls. Returns the workers and the summed loss of each step.
 */
async function train(
  n: number,
  data: Batch[],
  init: { w: Float64Array; b: Float64Array },
  r: Rng,
  opts = { globalNorm: true, reduceStats: true },
): Promise<{ workers: Worker[]; losses: number[] }> {
  const workers = Array.from({ length: n }, () => worker(init));
  // One GPU queue cannot make worker 0's hook wait for worker 1's later forward, so each step first gathers every
  // worker's own statistics with a probe loss holding the shared state; each worker's hook then sums them.
  const probe = createLoss("eqlv2", LOSS_PARAMS, { numClasses: C });
  const slots = Array.from({ length: n }, () => new Tensor([2, C]).keep());
  const losses: number[] = [];
  for (const batch of data) {
    const parts = slices(r, n);
    const labels = parts.map(([a, b]) => batch.labels.slice(a, b));
    const shared: LossState = await workers[0].loss.state();
    const stepLosses = tidy(() => {
      const xs = workers.map((k, i) => logits(k, batch, parts[i]));
      const norm = (i: number) => ({ avgFactor: opts.globalNorm ? ROWS : parts[i][1] - parts[i][0] });
      for (const [i, x] of xs.entries()) {
        probe.loadState(shared);
        probe.allReduce = (stats) => rt().copy(stats.buffer, slots[i].buffer, 8 * C);
        noGrad(() => probe.forward(x, labels[i], norm(i)));
      }
      const out = workers.map((k, i) => {
        if (opts.reduceStats) {
          k.loss.allReduce = (stats) => {
            const sum = slots.slice(1).reduce((s, t) => add(s, t), slots[0]);
            rt().copy(sum.buffer, stats.buffer, 8 * C);
          };
        }
        const step = k.loss.forward(xs[i], labels[i], norm(i));
        backward(step.loss);
        return step.loss;
      });
      // The gradient all-reduce: every worker steps with the sum of all workers' gradients.
      for (const pick of [(k: Worker) => k.w, (k: Worker) => k.b]) {
        const sum = workers.slice(1).reduce((s, k) => add(s, pick(k).grad!), pick(workers[0]).grad!);
        for (const k of workers) if (pick(k).grad !== sum) rt().copy(sum.buffer, pick(k).grad!.buffer, 4 * sum.size);
      }
      for (const k of workers) k.opt.step();
      for (const k of workers) k.opt.zeroGrad();
      return out;
    });
    let total = 0;
    for (const l of stepLosses) {
      total += await l.item();
      l.dispose();
    }
    losses.push(total);
  }
  probe.dispose();
  for (const s of slots) s.dispose();
  return { workers, losses };
}

async function values(k: Worker): Promise<{ w: Float32Array; b: Float32Array; state: LossState }> {
  return { w: await k.w.toF32(), b: await k.b.toF32(), state: await k.loss.state() };
}

function dispose(workers: Worker[]): void {
  for (const k of workers) {
    k.w.dispose();
    k.b.dispose();
    k.loss.dispose();
    k.opt.dispose();
  }
}

for (const n of [2, 4]) {
  gpuTest(
    `${n} data-parallel workers with summed gradients and EQL v2 statistics equal one worker after 5 steps (seed ${SEED})`,
    async () => {
      const r = rng(100 + n);
      const data = batches(r);
      const init = { w: randomArray(r, D * (C + 1), -0.3, 0.3), b: randomArray(r, C + 1, -0.1, 0.1) };
      const one = await train(1, data, init, r);
      const want = await values(one.workers[0]);
      // Not vacuous: the state has moved far from its start, and so have the weights.
      assert.ok(want.state.pos_grad.every((p, j) => p > 0 || !data.some((b) => b.labels.includes(j))));
      assert.ok(Math.max(...want.w.map((v, i) => Math.abs(v - init.w[i]))) > 0.05);

      const many = await train(n, data, init, r);
      assertClose(many.losses, one.losses, { rtol: 1e-5, atol: 1e-6 }, "summed loss per step");
      for (const [i, k] of many.workers.entries()) {
        const got = await values(k);
        // Float32 sums in another order, compounded over 5 steps of momentum SGD.
        assertClose(got.w, want.w, { rtol: 1e-4, atol: 1e-5 }, `worker ${i} weights`);
        assertClose(got.b, want.b, { rtol: 1e-4, atol: 1e-5 }, `worker ${i} bias`);
        for (const key of ["pos_grad", "neg_grad", "ratio"] as const) {
          assertClose(got.state[key], want.state[key], { rtol: 1e-4, atol: 1e-6 }, `worker ${i} EQL v2 ${key}`);
        }
      }

      // The controls: each worker's own normaliser, or no statistics all-reduce, must not pass the same checks.
      for (const opts of [{ globalNorm: false, reduceStats: true }, { globalNorm: true, reduceStats: false }]) {
        const wrong = await train(n, data, init, r, opts);
        const got = await values(wrong.workers[0]);
        const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
          try {
            assertClose(a, b, { rtol: 1e-4, atol: 1e-5 });
            return true;
          } catch {
            return false;
          }
        };
        assert.ok(!close(got.w, want.w) || !close(got.state.neg_grad, want.state.neg_grad), JSON.stringify(opts));
        dispose(wrong.workers);
      }
      dispose(one.workers);
      dispose(many.workers);
    },
  );
}
