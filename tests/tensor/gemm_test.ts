import assert from "node:assert/strict";
import { assertClose, gpuTest, randomArray, rng } from "../_util.ts";
import { rt } from "../../tensor/tensor.ts";
import { gemm, gemmKernel, type GemmParams } from "../../kernels/gemm.ts";
import { gemmTextureFits } from "../../kernels/gemm_texture.ts";
import { chooseGemm } from "../../kernels/gemm_choice.ts";
import type { GemmVariant } from "../../kernels/gemm_choice.ts";

/** C = op(A) @ op(B) (+ C0) in float64, batched with broadcasting. */
function gemm64(a: Float64Array, b: Float64Array, c0: Float64Array | null, p: GemmParams): Float64Array {
  const { batch, M, N, K } = p;
  const c = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = p.broadcastA ? 0 : z * M * K, bo = p.broadcastB ? 0 : z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = c0 ? c0[z * M * N + m * N + n] : 0;
        for (let k = 0; k < K; k++) {
          s += a[ao + (p.transA ? k * M + m : m * K + k)] * b[bo + (p.transB ? n * K + k : k * N + n)];
        }
        c[z * M * N + m * N + n] = s;
      }
    }
  }
  return c;
}

/** Run one product on random inputs and compare with float64; `textures` runs it through `gemm` with that choice. */
async function check(p: GemmParams, salt: number, textures?: boolean): Promise<void> {
  const r = rng(salt);
  const a = randomArray(r, (p.broadcastA ? 1 : p.batch) * p.M * p.K);
  const b = randomArray(r, (p.broadcastB ? 1 : p.batch) * p.K * p.N);
  // Poison C: NaN fails any element left unwritten; accumulation starts from random values.
  const c0 = p.accumulate ? randomArray(r, p.batch * p.M * p.N) : null;
  const rtm = rt();
  const bufs = [
    rtm.upload(Float32Array.from(a)),
    rtm.upload(Float32Array.from(b)),
    rtm.upload(c0 ? Float32Array.from(c0) : new Float32Array(p.batch * p.M * p.N).fill(NaN)),
  ];
  if (textures === undefined) rtm.dispatch(gemmKernel, p, bufs);
  else gemm(rtm, p, [bufs[0], bufs[1], bufs[2]], { textures });
  const got = await rtm.readF32(bufs[2], p.batch * p.M * p.N);
  for (const buf of bufs) rtm.release(buf);
  // f32 sums of K products of size <= 1: error ~ sqrt(K) * 6e-8 relative to the terms.
  assertClose(got, gemm64(a, b, c0, p), { rtol: 1e-5, atol: 2e-6 * Math.sqrt(p.K) }, JSON.stringify(p));
}

// Cases chosen so that every load mode of the blocked kernel appears: vec4 along K (A plain, B transposed),
// vec4 along M/N (A transposed with M % 4 = 0, B plain with N % 4 = 0), scalar, a K % 4 tail, and scalar stores.
const CASES: Omit<GemmParams, "variant">[] = [
  { batch: 1, M: 5, N: 12, K: 8, transA: false, transB: false },
  { batch: 1, M: 12, N: 8, K: 7, transA: true, transB: false },
  { batch: 2, M: 33, N: 17, K: 65, transA: false, transB: true, accumulate: true },
  { batch: 3, M: 64, N: 36, K: 20, transA: true, transB: true, broadcastB: true },
  { batch: 1, M: 130, N: 132, K: 12, transA: false, transB: false, accumulate: true },
  { batch: 2, M: 7, N: 9, K: 5, transA: true, transB: true, broadcastA: true },
  { batch: 1, M: 1, N: 4, K: 4, transA: false, transB: true },
  { batch: 1, M: 20, N: 40, K: 24, transA: false, transB: false, tm: 4, tn: 8, wgx: 4, wgy: 2 },
];

for (const variant of ["blocked", "tiled"] as GemmVariant[]) {
  gpuTest(
    `gemmKernel (${variant}) matches float64 for every load mode, tail, batch, broadcast and accumulate`,
    async () => {
      for (const [i, c] of CASES.entries()) await check({ ...c, variant }, 100 + i);
    },
  );
}

gpuTest("gemmKernel (blocked) handles 16 x 16 and 32 x 32 blocks with partial blocks and long K", async () => {
  await check({ batch: 1, M: 70, N: 136, K: 132, transA: false, transB: false, variant: "blocked" }, 120);
  await check({ batch: 1, M: 68, N: 130, K: 129, transA: true, transB: true, variant: "blocked" }, 121);
  // The 32 x 32 block that matrices of 256 and more get, on a shape that leaves partial blocks.
  await check({ batch: 1, M: 40, N: 72, K: 12, transA: false, transB: false, tm: 32, tn: 32, variant: "blocked" }, 122);
});

gpuTest("gemm through texture operands matches float64: packed (transposed, tails) and copied operands", async () => {
  for (const [i, c] of CASES.entries()) await check({ ...c, variant: "blocked" }, 200 + i, true);
  // Rows of a multiple of 64 floats are copied into the textures instead of packed; a 32 x 32 block
  // with partial blocks; M, N not multiples of 4 with K a multiple of 64 (A copied, B packed).
  await check({ batch: 2, M: 40, N: 128, K: 64, transA: false, transB: false, tm: 32, tn: 32 }, 210, true);
  await check({ batch: 3, M: 37, N: 64, K: 128, transA: false, transB: false, broadcastA: true }, 211, true);
  await check({ batch: 1, M: 33, N: 30, K: 192, transA: false, transB: true, accumulate: true }, 212, true);
  await check({ batch: 1, M: 70, N: 136, K: 129, transA: true, transB: false, tm: 16, tn: 16 }, 213, true);
});

gpuTest(
  "gemm picks texture operands only for large products that fit, and returns its textures to the pool",
  async () => {
    const limits = { maxTextureDimension2D: 8192, maxTextureArrayLayers: 256 };
    const p = { batch: 1, M: 64, N: 64, K: 64, transA: false, transB: false };
    assert.equal(gemmTextureFits(p, limits), true);
    assert.equal(gemmTextureFits({ ...p, K: 4 * 8193 }, limits), false, "A's rows are too wide");
    assert.equal(gemmTextureFits({ ...p, N: 4 * 8193 }, limits), false, "B's rows are too wide");
    assert.equal(gemmTextureFits({ ...p, K: 2049 * 4 }, limits), false, "B has too many rows");
    assert.equal(gemmTextureFits({ ...p, batch: 257 }, limits), false, "too many layers");
    assert.equal(gemmTextureFits({ ...p, batch: 257, broadcastA: true, broadcastB: true }, limits), true);
    assert.equal(gemmTextureFits({ ...p, K: 0 }, limits), false);
    // A product of 2^24 multiply-adds goes through textures; its textures are pooled, and a
    // loop of them does not grow memory.
    const r = rt();
    const big = {
      batch: 1,
      M: 256,
      N: 256,
      K: 256,
      transA: true,
      transB: false,
      variant: "blocked" as const,
      tm: 8,
      tn: 8,
    };
    const bufs: [GPUBuffer, GPUBuffer, GPUBuffer] = [
      r.buffer(4 * 256 * 256),
      r.buffer(4 * 256 * 256),
      r.buffer(4 * 256 * 256),
    ];
    const dispatched: string[] = [];
    const spy = {
      device: r.device,
      dispatch: <P>(k: Parameters<typeof r.dispatch<P>>[0], q: P, b: (GPUBuffer | GPUTextureView)[]) => {
        dispatched.push(k.name);
        r.dispatch(k, q, b);
      },
      texture: r.texture.bind(r),
      releaseTexture: r.releaseTexture.bind(r),
      copyToTexture: r.copyToTexture.bind(r),
    };
    gemm(spy, big, bufs);
    gemm(spy, { ...big, K: 255 }, bufs);
    gemm(spy, big, bufs, { textures: false });
    assert.deepEqual(dispatched, ["gemm_pack", "gemm_texture", "gemm", "gemm"]);
    await r.sync();
    const before = r.memory;
    for (let i = 0; i < 5; i++) gemm(r, big, bufs);
    await r.sync();
    assert.deepEqual(r.memory, before);
    for (const b of bufs) r.release(b);
  },
);

Deno.test("chooseGemm() picks blocked on CPU adapters, tiled on GPUs, and obeys TAILOR_GEMM", () => {
  const prev = Deno.env.get("TAILOR_GEMM");
  try {
    Deno.env.delete("TAILOR_GEMM");
    assert.equal(chooseGemm({ isFallbackAdapter: false, description: "llvmpipe (LLVM 15.0.6, 256 bits)" }), "blocked");
    assert.equal(chooseGemm({ isFallbackAdapter: true, description: "unknown adapter" }), "blocked");
    assert.equal(chooseGemm({ isFallbackAdapter: false, description: "NVIDIA H100 80GB HBM3" }), "tiled");
    Deno.env.set("TAILOR_GEMM", "tiled");
    assert.equal(chooseGemm({ isFallbackAdapter: true, description: "llvmpipe" }), "tiled");
    Deno.env.set("TAILOR_GEMM", "fast");
    assert.throws(() => chooseGemm({ isFallbackAdapter: true, description: "llvmpipe" }), /TAILOR_GEMM="fast"/);
  } finally {
    if (prev === undefined) Deno.env.delete("TAILOR_GEMM");
    else Deno.env.set("TAILOR_GEMM", prev);
  }
});

gpuTest("gemmKernel treats K = 0 as a sum of nothing and an empty C as no work", async () => {
  for (const variant of ["blocked", "tiled"] as GemmVariant[]) {
    const r = rt();
    const bufs = [
      r.upload(new Float32Array([1])),
      r.upload(new Float32Array([1])),
      r.upload(new Float32Array(6).fill(NaN)),
    ];
    r.dispatch(gemmKernel, { batch: 1, M: 2, N: 3, K: 0, transA: false, transB: false, variant }, bufs);
    assert.deepEqual([...await r.readF32(bufs[2], 6)], [0, 0, 0, 0, 0, 0], variant);
    r.dispatch(gemmKernel, { batch: 1, M: 0, N: 3, K: 2, transA: false, transB: false, variant }, bufs);
    await r.sync();
    for (const b of bufs) r.release(b);
  }
});
