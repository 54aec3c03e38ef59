import assert, { deepEqual as assertEquals } from "node:assert/strict";
import { gpuTest, rng } from "../_util.ts";
import type { Rng } from "../../core/rng.ts";
import { rt } from "../../tensor/tensor.ts";
import { nms, scoreOrder } from "../../model/nms.ts";

function iou64(b: Float64Array, i: number, j: number): number {
  const iw = Math.max(Math.min(b[4 * i + 2], b[4 * j + 2]) - Math.max(b[4 * i], b[4 * j]), 0);
  const ih = Math.max(Math.min(b[4 * i + 3], b[4 * j + 3]) - Math.max(b[4 * i + 1], b[4 * j + 1]), 0);
  const inter = iw * ih;
  const area = (k: number) => (b[4 * k + 2] - b[4 * k]) * (b[4 * k + 3] - b[4 * k + 1]);
  return inter / (area(i) + area(j) - inter);
}

/** Textbook greedy NMS in float64: O(n^2), stable score order, groups never interact. */
function nms64(b: Float64Array, s: ArrayLike<number>, t: number, groups: ArrayLike<number>, maxKeep: number): number[] {
  const order = Array.from({ length: s.length }, (_, i) => i).sort((p, q) => s[q] - s[p] || p - q);
  const keep: number[] = [];
  for (const i of order) {
    if (keep.length >= maxKeep) break;
    if (keep.every((k) => groups[k] !== groups[i] || !(iou64(b, k, i) > t))) keep.push(i);
  }
  return keep;
}

/** Clustered boxes (so many overlap), scores with ties, and no pair within 1e-4 of the threshold. */
function randomCase(r: Rng, n: number, t: number, nGroups: number) {
  const boxes = new Float64Array(4 * n), groups = new Int32Array(n), scores = new Float32Array(n);
  const centres = Array.from({ length: Math.max(1, n >> 3) }, () => [0, 0, 4, 4].map((v) => v + r.uniform(0, 200)));
  for (let i = 0; i < n; i++) {
    for (let attempt = 0;; attempt++) {
      const [cx, cy, w0, h0] = centres[r.int(centres.length)];
      const w = w0 * r.uniform(0.8, 1.2), h = h0 * r.uniform(0.8, 1.2);
      const x = cx + r.normal() * w0 * 0.1, y = cy + r.normal() * h0 * 0.1;
      boxes.set([x, y, x + w, y + h].map(Math.fround), 4 * i);
      groups[i] = r.int(nGroups);
      let ok = true;
      for (let j = 0; j < i && ok; j++) ok = Math.abs(iou64(boxes, i, j) - t) > 1e-4;
      if (ok || attempt > 50) break;
    }
    scores[i] = r.int(Math.max(2, n >> 2)) / 7; // quantised: many ties
  }
  return { boxes, groups, scores };
}

gpuTest("nms() keeps exactly the float64 greedy set, in score order with ties in input order", async () => {
  const r = rng(21);
  for (
    const [n, t, nGroups, maxKeep] of [[1, 0.5, 1, 10], [37, 0.5, 1, 1000], [300, 0.7, 1, 1000], [257, 0.5, 5, 40]]
  ) {
    const { boxes, groups, scores } = randomCase(r, n, t, nGroups);
    // Poison: buffers of every size up to 8 KiB come back from the pool holding all-ones words.
    for (let bytes = 16; bytes <= 8192; bytes += 16) rt().release(rt().upload(new Uint32Array(bytes / 4).fill(~0)));
    const want = nms64(boxes, scores, t, nGroups > 1 ? groups : new Int32Array(n), maxKeep);
    for (const device of ["gpu", "host"] as const) {
      const got = await nms(boxes, scores, {
        iouThreshold: t,
        groups: nGroups > 1 ? groups : undefined,
        maxKeep,
        device,
      });
      assertEquals([...got], want, `n=${n} t=${t} groups=${nGroups} on ${device}`);
    }
    if (n > 100) assert(want.length < n * 0.9 && want.length > 1, `case n=${n} suppresses something and keeps several`);
  }
});

gpuTest("nms() never suppresses across groups and handles empty input", async () => {
  const boxes = [0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10];
  for (const device of ["gpu", "host"] as const) {
    assertEquals([...await nms(boxes, [0.5, 0.9, 0.7], { iouThreshold: 0.5, groups: [3, 3, 4], device })], [1, 2]);
  }
  assertEquals([...await nms([], [], { iouThreshold: 0.5 })], []);
  assertEquals([...await nms([0, 0, 1, 1], [0.3], { iouThreshold: 0.5, device: "gpu" })], [0]);
});

Deno.test("scoreOrder() sorts descending, keeps ties in index order, puts NaN last and cuts at k", () => {
  assertEquals([...scoreOrder([0.2, NaN, 0.9, 0.2, 0.9])], [2, 4, 0, 3, 1]);
  assertEquals([...scoreOrder([0.2, NaN, 0.9, 0.2, 0.9], 2)], [2, 4]);
});

gpuTest("nms() follows suppression chains: a suppressed box suppresses nothing", async () => {
  // B overlaps A (IoU 0.8) and C (IoU 0.6), A and C overlap at IoU 0.4: A suppresses B, so C survives.
  const boxes = [0, 0, 10, 10, 0, 0, 8, 10, 0, 0, 4.8, 10];
  assertEquals([...await nms(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.5, device: "gpu" })], [0, 2]);
  assertEquals([...await nms(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.5, device: "host" })], [0, 2]);
  assertEquals([...await nms(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.5, maxKeep: 1 })], [0]);
});
