/** Messages between the batch loader and its decode workers. */
import type { Normalization } from "./decode_image.ts";
import type { ResizePlan } from "./resize_plan.ts";

export interface DecodeJob {
  id: number;
  path: string;
  plan: ResizePlan;
  normalization: Normalization;
}

export type DecodeReply =
  | { id: number; ok: true; pixels: Float32Array; width: number; height: number }
  | { id: number; ok: false; message: string };
