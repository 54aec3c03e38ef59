/** Weights files: `.pth` (zip or legacy) or safetensors, told apart by their first bytes, not by name. */
import { InputError } from "../../core/errors.ts";
import { decodePth, looksLikePth } from "./pth.ts";
import { decodeSafetensors, type NamedArray } from "./safetensors.ts";

export interface WeightsFile {
  tensors: Map<string, NamedArray>;
  /** "pth" (torch.save zip), "pth-legacy" (torch.save before 1.6) or "safetensors". */
  format: "pth" | "pth-legacy" | "safetensors";
  /** Where a `.pth` checkpoint nested its state dict ("state_dict", "model"), if it did. */
  container?: string;
}

/** Decode the bytes of a weights file; `file` names it in errors. */
export function decodeWeights(bytes: Uint8Array, file: string): WeightsFile {
  if (looksLikePth(bytes)) {
    const { tensors, layout, container } = decodePth(bytes, file);
    return { tensors, format: layout === "zip" ? "pth" : "pth-legacy", container };
  }
  // A safetensors file starts with its header length, then the header's "{".
  if (bytes.length >= 9 && bytes[8] === 0x7b) return { ...decodeSafetensors(bytes, file), format: "safetensors" };
  // Any other pickle: decodePth refuses it, saying what it is.
  if (bytes[0] === 0x80) decodePth(bytes, file);
  throw new InputError(`Cannot read "${file}": neither a PyTorch checkpoint (.pth) nor a safetensors file`);
}

/**
 * Read a `.pth` or safetensors weights file.
 *
 * @example
 * ```ts
 * const { tensors, format } = await readWeights("maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth");
 * console.log(format, tensors.size); // "pth-legacy" 307
 * ```
 */
export async function readWeights(file: string): Promise<WeightsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new InputError(`Cannot read "${file}": ${(e as Error).message}`);
  }
  return decodeWeights(bytes, file);
}
