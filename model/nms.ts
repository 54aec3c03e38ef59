/**
 * NMS: the GPU computes the IoU bitmask of boxes sorted by group and score (`kernels/nms.ts`), the host
 * walks it greedily per group and merges survivors by score. Score ties keep input order.
 */
import { nmsMaskKernel, nmsRowWords } from "../kernels/nms.ts";
import { rt } from "../tensor/tensor.ts";
import type { Boxes } from "./boxes.ts";

export interface NmsOptions {
  /** A box is suppressed by a kept, higher-scored box when their IoU exceeds this. */
  iouThreshold: number;
  /** Per-box group (class) ids: boxes of different groups never suppress each other (batched NMS). */
  groups?: ArrayLike<number>;
  /** Keep at most this many (the post-NMS top-k). */
  maxKeep?: number;
  /** Where the IoU mask is computed: "auto" (default) picks the host for small inputs. */
  device?: "auto" | "gpu" | "host";
}

/** Indices of `scores` by descending score, ties in index order, NaN last; the first `k` when given. */
export function scoreOrder(scores: ArrayLike<number>, k = scores.length): Int32Array {
  const key = (i: number) => Number.isNaN(scores[i]) ? -Infinity : scores[i];
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => key(b) - key(a) || a - b);
  return Int32Array.from(idx.slice(0, Math.min(k, idx.length)));
}

/** Mask words beyond which `nms` refuses (256 MiB): cut the candidates first. */
const MAX_MASK_WORDS = 1 << 26;
/** Box pairs (~720 boxes in a group) up to which the host is faster than the GPU round trip (BENCHMARKS.md). */
const HOST_PAIRS = 1 << 18;

/** Greedy NMS, class-wise with `groups`: kept indices by descending score (ties in index order), <= `maxKeep`. */
export async function nms(boxes: Boxes, scores: ArrayLike<number>, opts: NmsOptions): Promise<Int32Array> {
  const n = scores.length;
  if (boxes.length !== 4 * n) throw new Error(`nms got ${boxes.length / 4} boxes and ${n} scores`);
  const groups = opts.groups;
  if (groups && groups.length !== n) throw new Error(`nms got ${groups.length} groups for ${n} boxes`);
  if (n === 0) return new Int32Array(0);
  const key = (i: number) => Number.isNaN(scores[i]) ? -Infinity : scores[i];
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (groups ? groups[a] - groups[b] : 0) || key(b) - key(a) || a - b);
  const sorted = new Float32Array(4 * n), end = new Uint32Array(n), offset = new Uint32Array(n);
  let words = 0, pairs = 0;
  for (let i = 0, segEnd = 0; i < n; i++) {
    const o = order[i];
    sorted.set([boxes[4 * o], boxes[4 * o + 1], boxes[4 * o + 2], boxes[4 * o + 3]], 4 * i);
    if (i === segEnd) {
      segEnd = i + 1;
      while (groups && segEnd < n && groups[order[segEnd]] === groups[o]) segEnd++;
      if (!groups) segEnd = n;
    }
    end[i] = segEnd;
    offset[i] = words;
    words += nmsRowWords(i, segEnd);
    pairs += segEnd - i - 1;
  }
  if (words > MAX_MASK_WORDS) {
    throw new Error(`nms of ${n} boxes needs a ${(words / 262144).toFixed(0)} MiB mask: keep fewer candidates first`);
  }
  const device = opts.device ?? "auto";
  const mask = words === 0 || device === "host" || (device === "auto" && pairs <= HOST_PAIRS)
    ? _maskOnHost(sorted, end, offset, words, opts.iouThreshold)
    : await _maskOnGpu(sorted, end, offset, words, opts.iouThreshold);
  // Greedy within each segment: a kept box suppresses the later boxes its row flags.
  const removed = new Uint8Array(n);
  const kept: number[] = [];
  for (let i = 0; i < n; i++) {
    if (removed[i]) continue;
    kept.push(order[i]);
    const rowWords = nmsRowWords(i, end[i]);
    for (let w = 0; w < rowWords; w++) {
      let bits = mask[offset[i] + w];
      while (bits !== 0) {
        const low = bits & -bits;
        removed[i + 1 + 32 * w + 31 - Math.clz32(low)] = 1;
        bits ^= low;
      }
    }
  }
  kept.sort((a, b) => key(b) - key(a) || a - b);
  return Int32Array.from(kept.slice(0, opts.maxKeep ?? n));
}

/** The kernel's mask on the host, in f32 arithmetic like the kernel's. */
function _maskOnHost(
  b: Float32Array,
  end: Uint32Array,
  offset: Uint32Array,
  words: number,
  iouThreshold: number,
): Uint32Array {
  const f = Math.fround, t = f(iouThreshold);
  const mask = new Uint32Array(words);
  for (let i = 0; i < end.length; i++) {
    const areaA = f(f(b[4 * i + 2] - b[4 * i]) * f(b[4 * i + 3] - b[4 * i + 1]));
    for (let j = i + 1; j < end[i]; j++) {
      const iw = Math.max(f(Math.min(b[4 * i + 2], b[4 * j + 2]) - Math.max(b[4 * i], b[4 * j])), 0);
      const ih = Math.max(f(Math.min(b[4 * i + 3], b[4 * j + 3]) - Math.max(b[4 * i + 1], b[4 * j + 1])), 0);
      const inter = f(iw * ih);
      const areaB = f(f(b[4 * j + 2] - b[4 * j]) * f(b[4 * j + 3] - b[4 * j + 1]));
      if (f(inter / f(f(areaA + areaB) - inter)) > t) {
        const bit = j - i - 1;
        mask[offset[i] + (bit >>> 5)] |= 1 << (bit & 31);
      }
    }
  }
  return mask;
}

async function _maskOnGpu(
  sorted: Float32Array,
  end: Uint32Array,
  offset: Uint32Array,
  words: number,
  iouThreshold: number,
): Promise<Uint32Array> {
  const r = rt(), n = end.length;
  const bufs = [r.upload(sorted), r.upload(end), r.upload(offset), r.buffer(words * 4, "nms_mask")];
  try {
    r.dispatch(nmsMaskKernel, { iouThreshold, boxes: n }, bufs, new Uint32Array([n]));
    return await r.readU32(bufs[3], words);
  } finally {
    for (const b of bufs) r.release(b);
  }
}
