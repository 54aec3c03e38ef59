/**
 * Export float32 safetensors in torchvision 0.14's names and conventions (background first), so that
 * `maskrcnn_resnet50_fpn(num_classes=C + 1).load_state_dict(tensors)` takes it with `strict=True`.
 */
import { join } from "node:path";
import { InputError } from "../../core/errors.ts";
import { CLASS_PARAMS, padBackground, repeatRows, type TorchvisionStateDict, toTorchvisionNames } from "./key_map.ts";
import { readWeights } from "./read.ts";
import { type NamedArray, writeSafetensors } from "./safetensors.ts";

/** What to export: a weights file, or a train stage's model folder (model.json + weights.safetensors). */
export type ExportSource = { weights: string } | { model: string };

export interface ExportResult {
  tensors: number;
  naming: TorchvisionStateDict["naming"];
  /** False for models with no torchvision counterpart (the tiny and small presets): their names are tailor's. */
  torchvision: boolean;
}

/**
 * Write `source` to `out` as torchvision-named safetensors, atomically (replaced only by a complete file).
 *
 * @example
 * ```ts
 * await exportTorchvision({ weights: "epoch_12.pth" }, "eqlv2_r50.safetensors"); // an mmdetection checkpoint
 * ```
 */
export async function exportTorchvision(source: ExportSource, out: string): Promise<ExportResult> {
  const file = "weights" in source ? source.weights : join(source.model, "weights.safetensors");
  const sd = toTorchvisionNames((await readWeights(file)).tensors, file);
  if ("model" in source && sd.naming === "torchvision") {
    fromTailorHeads(sd.tensors, await cardClasses(source.model), file);
  }
  const torchvision = sd.naming !== "tailor";
  await writeSafetensors(out, sd.tensors, {
    format: "pt",
    producer: "tailor",
    names: torchvision ? "torchvision" : "tailor",
  });
  return { tensors: sd.tensors.size, naming: sd.naming, torchvision };
}

async function cardClasses(dir: string): Promise<number> {
  const path = join(dir, "model.json");
  let card: { numClasses?: unknown };
  try {
    card = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new InputError(`Cannot read "${path}": ${(e as Error).message}`);
  }
  if (!Number.isInteger(card.numClasses) || (card.numClasses as number) < 1) {
    throw new InputError(`Cannot read "numClasses" in "${path}": expected a positive whole number`);
  }
  return card.numClasses as number;
}

/** tailor's heads (class-agnostic boxes and foreground masks allowed) as torchvision's. */
function fromTailorHeads(sd: Map<string, NamedArray>, classes: number, file: string): void {
  const convert = (prefix: string, block: number, agnostic: (t: NamedArray) => NamedArray | null) => {
    for (const part of ["weight", "bias"]) {
      const key = `${prefix}.${part}`, t = sd.get(key);
      if (!t) continue;
      if (t.shape[0] !== block * (classes + 1)) {
        const other = agnostic(t);
        if (!other) {
          throw new InputError(
            `Cannot export "${file}": ${key} has ${t.shape[0]} rows for ${classes} classes, a form torchvision has not`,
          );
        }
        sd.set(key, other);
      }
    }
  };
  convert(CLASS_PARAMS.scores, 1, () => null);
  // One box for every class is torchvision's per-class regressor with equal rows.
  convert(CLASS_PARAMS.boxes, 4, (t) => t.shape[0] === 4 ? repeatRows(t, classes + 1) : null);
  // Foreground-only masks gain a background mask torchvision never uses; one shared mask is every class's.
  convert(
    CLASS_PARAMS.masks,
    1,
    (t) => t.shape[0] === classes ? padBackground(t, 1) : t.shape[0] === 1 ? repeatRows(t, classes + 1) : null,
  );
}
