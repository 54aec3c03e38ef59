// The synthetic categories and their long tail, shaped like LVIS v1: 337 rare (1-9 training images), 461 common
// (10-99) and 405 frequent of 1203.
import type { Rng } from "../../core/rng.ts";
import { COLOURS, type TextureName, TEXTURES } from "./appearance.ts";
import { type ShapeName, SHAPES } from "./shapes.ts";
import type { Frequency } from "../dataset.ts";

export interface SynthCategory {
  id: number;
  name: string;
  shape: ShapeName;
  colour: number;
  texture: TextureName;
  frequency: Frequency;
  /** Target number of training images that show it. */
  targetTrainImages: number;
}

/** The largest number of categories: every shape x colour x texture once. */
export const MAX_SYNTH_CATEGORIES = SHAPES.length * COLOURS.length * TEXTURES.length;

function _logUniformInt(rng: Rng, lo: number, hi: number): number {
  return Math.min(hi, Math.floor(Math.exp(Math.log(lo) + rng.float() * (Math.log(hi + 1) - Math.log(lo)))));
}

/** Pick `count` categories with groups and target counts; `countScale` shrinks counts, keeping LVIS's proportions. */
export function synthCategories(
  options: { count: number; rng: Rng; countScale?: number; maxFrequentImages?: number },
): SynthCategory[] {
  const { count, rng, countScale = 1, maxFrequentImages = 600 } = options;
  if (!Number.isInteger(count) || count < 3 || count > MAX_SYNTH_CATEGORIES) {
    throw new RangeError(`Category count must be an integer in [3, ${MAX_SYNTH_CATEGORIES}], got ${count}`);
  }
  const combos = Array.from({ length: MAX_SYNTH_CATEGORIES }, (_, i) => i);
  rng.shuffle(combos);
  const rare = Math.max(1, Math.round((count * 337) / 1203));
  const common = Math.max(1, Math.round((count * 461) / 1203));
  const groups = Array.from({ length: count }, (_, i) => (i < rare ? "r" : i < rare + common ? "c" : "f") as Frequency);
  rng.shuffle(groups);
  const scaled = (n: number) => Math.max(1, Math.round(n * countScale));
  return combos.slice(0, count).map((combo, i) => {
    const shape = SHAPES[combo % SHAPES.length];
    const colour = Math.floor(combo / SHAPES.length) % COLOURS.length;
    const texture = TEXTURES[Math.floor(combo / (SHAPES.length * COLOURS.length))];
    const frequency = groups[i];
    const base = frequency === "r"
      ? 1 + rng.int(9)
      : frequency === "c"
      ? _logUniformInt(rng, 10, 99)
      : _logUniformInt(rng, 100, maxFrequentImages);
    return {
      id: i + 1,
      name: `${COLOURS[colour].name}_${texture}_${shape}`,
      shape,
      colour,
      texture,
      frequency,
      targetTrainImages: scaled(base),
    };
  });
}
