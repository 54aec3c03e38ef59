/**
 * Non-maximum suppression: the GPU computes the IoU bitmask of the
 * score-sorted boxes (`kernels/nms.ts`), the host walks it greedily. Ties in
 * score keep input order, so results are deterministic.
 */
import { nmsMaskKernel, nmsWords } from "../kernels/nms.ts";
import { rt } from "../tensor/tensor.ts";
import type { Boxes } from "./boxes.ts";

/** Options of `nms`. */
export interface NmsOptions {
  /** A box is suppressed by a kept, higher-scored box when their IoU exceeds this. */
  iouThreshold: number;
  /** Per-box group (class) ids: boxes of different groups never suppress each other (batched NMS). */
  groups?: ArrayLike<number>;
  /** Keep at most this many (the post-NMS top-k). */
  maxKeep?: number;
}

/**
 * Indices of `scores` sorted by descending score, ties in index order, NaN last;
 * the first `k` only when given (a top-k).
 *
 * @example
 * ```ts
 * import { scoreOrder } from "./nms.ts";
 * scoreOrder([0.1, 0.9, 0.5, 0.9], 3); // Int32Array [1, 3, 2]
 * ```
 */
export function scoreOrder(scores: ArrayLike<number>, k = scores.length): Int32Array {
  const key = (i: number) => Number.isNaN(scores[i]) ? -Infinity : scores[i];
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => key(b) - key(a) || a - b);
  return Int32Array.from(idx.slice(0, Math.min(k, idx.length)));
}

/**
 * Greedy NMS of boxes (x1, y1, x2, y2) by score. Returns the indices of the
 * kept boxes in descending score order.
 *
 * @example
 * ```ts
 * import { initTensors } from "../tensor/tensor.ts";
 * import { nms } from "./nms.ts";
 * await initTensors();
 * const keep = await nms([0, 0, 10, 10, 1, 1, 10, 10, 20, 20, 30, 30], [0.9, 0.8, 0.7], { iouThreshold: 0.5 });
 * // keep = Int32Array [0, 2]
 * ```
 */
export async function nms(boxes: Boxes, scores: ArrayLike<number>, opts: NmsOptions): Promise<Int32Array> {
  const n = scores.length;
  if (boxes.length !== 4 * n) throw new Error(`nms got ${boxes.length / 4} boxes and ${n} scores`);
  if (opts.groups && opts.groups.length !== n) throw new Error(`nms got ${opts.groups.length} groups for ${n} boxes`);
  if (n === 0) return new Int32Array(0);
  const order = scoreOrder(scores);
  const sorted = new Float32Array(4 * n), groups = new Int32Array(n);
  order.forEach((o, i) => {
    sorted.set([boxes[4 * o], boxes[4 * o + 1], boxes[4 * o + 2], boxes[4 * o + 3]], 4 * i);
    groups[i] = opts.groups ? opts.groups[o] : 0;
  });
  const words = nmsWords(n);
  const r = rt();
  const bBuf = r.upload(sorted), gBuf = r.upload(groups), mBuf = r.buffer(n * words * 4, "nms_mask");
  try {
    r.dispatch(nmsMaskKernel, { iouThreshold: opts.iouThreshold, boxes: n }, [bBuf, gBuf, mBuf], new Uint32Array([n, words]));
    const mask = await r.readU32(mBuf, n * words);
    return Int32Array.from(greedyKeep(mask, n, opts.maxKeep ?? n), (i) => order[i]);
  } finally {
    for (const b of [bBuf, gBuf, mBuf]) r.release(b);
  }
}

/**
 * The greedy pass over an NMS bitmask: rows in order, each kept row
 * suppresses the boxes whose bits it sets. Returns kept row numbers.
 */
export function greedyKeep(mask: Uint32Array, n: number, maxKeep = n): number[] {
  const words = nmsWords(n);
  const removed = new Uint32Array(words);
  const keep: number[] = [];
  for (let i = 0; i < n && keep.length < maxKeep; i++) {
    if (removed[i >>> 5] & (1 << (i & 31))) continue;
    keep.push(i);
    const row = i * words;
    for (let w = i >>> 5; w < words; w++) removed[w] |= mask[row + w];
  }
  return keep;
}
