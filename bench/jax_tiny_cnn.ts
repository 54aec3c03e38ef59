/**
 * The tiny-CNN training step of the foundation benchmark, written in
 * @jax-js/jax on WebGPU for a side-by-side figure: conv16-pool-conv32-pool-
 * conv64-global-avg-pool-dense10, batch 8, 64x64 RGB input, softmax cross
 * entropy, plain SGD, the whole step under one `jit`.
 *
 * Run alone: `deno run -A bench/jax_tiny_cnn.ts [steps]` prints ms per step.
 */
import { type StepTiming, timeSteps } from "./_step_timing.ts";
import { defaultDevice, init, jit, lax, nn, numpy as np, valueAndGrad } from "@jax-js/jax";

type Params = {
  w1: np.Array;
  b1: np.Array;
  w2: np.Array;
  b2: np.Array;
  w3: np.Array;
  b3: np.Array;
  wd: np.Array;
  bd: np.Array;
};

/** Deterministic pseudo-random floats in [-scale, scale). */
function _values(n: number, seed: number, scale: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 * 2 - 1) * scale;
  }
  return out;
}

function _param(shape: number[], seed: number, fanIn: number): np.Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return np.array(_values(n, seed, Math.sqrt(6 / fanIn))).reshape(shape);
}

function _convBlock(x: np.Array, w: np.Array, b: np.Array, cout: number): np.Array {
  const y = lax.conv(x, w, [1, 1], "SAME").add(b.reshape([1, cout, 1, 1]));
  return nn.relu(y);
}

function _pool2(x: np.Array, c: number, h: number): np.Array {
  return np.max(x.reshape([8, c, h / 2, 2, h / 2, 2]), [3, 5]);
}

function _loss(p: Params, x: np.Array, y: np.Array): np.Array {
  let h = _pool2(_convBlock(x, p.w1, p.b1, 16), 16, 64);
  h = _pool2(_convBlock(h, p.w2, p.b2, 32), 32, 32);
  h = np.mean(_convBlock(h, p.w3, p.b3, 64), [2, 3]);
  const logits = np.matmul(h, p.wd).add(p.bd);
  return np.mean(np.sum(nn.logSoftmax(logits).mul(y), 1)).mul(-1);
}

/** A ready jax-js tiny-CNN trainer; `steps(n)` runs n jitted SGD steps, waits once, and resolves to the last loss. */
export async function createJaxTinyCnn(): Promise<{ steps(n: number): Promise<number> }> {
  const devices = await init("webgpu");
  if (!devices.includes("webgpu")) throw new Error("jax-js found no WebGPU device");
  defaultDevice("webgpu");
  let params: Params = {
    w1: _param([16, 3, 3, 3], 1, 27),
    b1: np.zeros([16]),
    w2: _param([32, 16, 3, 3], 2, 144),
    b2: np.zeros([32]),
    w3: _param([64, 32, 3, 3], 3, 288),
    b3: np.zeros([64]),
    wd: _param([64, 10], 4, 64),
    bd: np.zeros([10]),
  };
  const x = np.array(_values(8 * 3 * 64 * 64, 5, 1)).reshape([8, 3, 64, 64]);
  const labels = Array.from({ length: 8 }, (_, i) => i % 10);
  const y = nn.oneHot(np.array(labels, { dtype: np.int32 }), 10);
  const lr = 0.05;
  const train = jit((p: Params, xb: np.Array, yb: np.Array) => {
    const keys = Object.keys(p) as (keyof Params)[];
    const borrowed = Object.fromEntries(keys.map((k) => [k, p[k].ref])) as Params;
    const [loss, g] = valueAndGrad(_loss)(borrowed, xb, yb);
    const next = {} as Params;
    for (const k of keys) next[k] = p[k].sub(g[k].mul(lr));
    return [loss, next] as [np.Array, Params];
  });
  return {
    async steps(n) {
      let loss: np.Array | null = null;
      for (let i = 0; i < n; i++) {
        loss?.dispose();
        const [l, next] = train(params, x.ref, y.ref);
        params = next;
        loss = l;
      }
      return (await loss!.data())[0];
    },
  };
}

/** Latency (a loss read-back after every step) and throughput (`steps` queued, one read-back) in ms per step. */
export async function jaxTinyCnnStepMs(steps = 5): Promise<StepTiming> {
  return timeSteps(await createJaxTinyCnn(), steps);
}

if (import.meta.main) {
  const r = await jaxTinyCnnStepMs(Number(Deno.args[0] ?? 5));
  console.log(
    `jax-js tiny CNN: ${r.latencyMs.toFixed(1)} ms/step with a read-back per step, ` +
      `${r.throughputMs.toFixed(1)} ms/step queued (loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)})`,
  );
}
