/** torchvision 0.14's mask targets, pasted masks and resized masks (fixtures/masks/generate.py). */
import type { Rle } from "../../eval/rle.ts";

/** Column-major run lengths as stored in the fixture. */
export type Runs = number[];

export interface MaskFixtures {
  source: string;
  targets: {
    height: number;
    width: number;
    size: number;
    masks: Runs[];
    boxes: number[];
    matched: number[];
    targets: number[];
  }[];
  paste: {
    height: number;
    width: number;
    size: number;
    probs: number[];
    boxes: number[];
    masks: Record<string, Runs[]>;
  }[];
  resize: { height: number; width: number; outHeight: number; outWidth: number; masks: Runs[]; resized: Runs[] }[];
}

/** The file keeps number lists as space-separated strings (compact under `deno fmt`). */
function _numbers(value: unknown): unknown {
  if (typeof value === "string" && /^[-0-9.e ]+$/.test(value)) return value.split(" ").map(Number);
  if (Array.isArray(value)) return value.map(_numbers);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === "source" ? v : _numbers(v)]));
  }
  return value;
}

export const MASK_FIXTURES = _numbers(
  JSON.parse(await Deno.readTextFile(new URL("./fixtures/masks/masks.json", import.meta.url))),
) as MaskFixtures;

export function rleOf(h: number, w: number, runs: Runs): Rle {
  return { h, w, counts: Uint32Array.from(runs) };
}
