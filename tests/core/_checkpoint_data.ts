/** Checkpoint contents that differ per step, for the interruption tests. */
import type { CheckpointData } from "../../model/checkpoint/training.ts";

export function checkpointOf(step: number): CheckpointData {
  const tensors = new Map([
    ["backbone.stem.weight", {
      shape: [16, 3, 3, 3],
      data: Float32Array.from({ length: 432 }, (_, i) => step + i / 7),
    }],
    ["head.fc.weight", { shape: [64, 80], data: Float32Array.from({ length: 5120 }, (_, i) => step * 1000 - i) }],
  ]);
  return { tensors, state: { step, optimizer: { kind: "sgd", step }, loss: { pos_grad: [step, 2 * step] } } };
}
