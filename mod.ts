/**
 * tailor: long-tailed object detection on WebGPU. Trains R-CNN-style detectors for LVIS with EQL v2 and its
 * relatives on hand-written WGSL kernels and evaluates them exactly as the LVIS API does, only faster. Every
 * pipeline stage is also a library call here.
 *
 * @example
 * ```ts
 * import { createLoss, initTensors, Tensor } from "./mod.ts";
 * await initTensors();
 * // EQL v2 over 8 categories + the background channel, as in ../shared/fixtures/eqlv2.
 * const eqlv2 = createLoss("eqlv2", { gamma: 12, mu: 0.8, alpha: 4 }, { numClasses: 8 });
 * const logits = Tensor.from(Array.from({ length: 2 * 9 }, (_, i) => Math.sin(i)), [2, 9]);
 * const { loss, grad } = eqlv2.forward(logits, Int32Array.from([3, 8]));
 * console.log(await loss.item(), await grad.toF32(), await eqlv2.state());
 * ```
 * @module
 */

// GPU runtime, kernels, tensors and autograd.
export { acquireDevice, type AdapterReport, describeAdapter, GpuUnavailableError } from "./gpu/device.ts";
export { GpuError, Runtime } from "./gpu/runtime.ts";
export { defineKernel, type Kernel } from "./gpu/kernel.ts";
export { gemm, type GemmParams, gemmTuning } from "./kernels/gemm.ts";
export { initTensors, type Shape, Tensor, tidy, tidyAsync } from "./tensor/tensor.ts";
export { isGradEnabled, noGrad } from "./tensor/autograd.ts";
export * from "./tensor/ops.ts";
export * from "./tensor/ops_nn.ts";
export * from "./tensor/ops_shape.ts";
export {
  AdamW,
  type AdamWOptions,
  Optimizer,
  type OptimizerState,
  parameter,
  SGD,
  type SgdOptions,
} from "./tensor/optim.ts";

// Long-tail classification losses.
export * from "./losses/mod.ts";

// Data: ingestion, synthetic sets, images, sampling.
export * from "./data/mod.ts";

// LVIS evaluation.
export * from "./eval/mod.ts";

// The detector.
export { DetectorConfig, detectorConfig, PRESETS } from "./model/config.ts";
export { type Detections, Detector, type ImageBatch as DetectorBatch, type ImageTargets } from "./model/detector.ts";
export { trainDetector, type TrainOptions, type TrainResult } from "./model/trainer.ts";
export { type ModelCard, readModelCard, writeModelCard } from "./model/model_card.ts";
export { loadTrainedModel, type TrainedModel } from "./model/trained_model.ts";
export { type LvisResult, resultRows } from "./model/result_rows.ts";
export { trainingData } from "./model/training_data.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  writeSafetensors,
} from "./model/checkpoint/safetensors.ts";
export { decodeWeights, readWeights, type WeightsFile } from "./model/checkpoint/read.ts";
export { loadCheckpointInto, type LoadOptions, type LoadPlan, type LoadScope } from "./model/checkpoint/load.ts";
export { toTorchvisionNames } from "./model/checkpoint/key_map.ts";
export { exportTorchvision } from "./model/checkpoint/export.ts";
export { type MaskTargetInputs, maskTargets } from "./model/masks/mask_targets.ts";
export { pasteMasks, type PasteOptions } from "./model/masks/paste_masks.ts";
export { type CroppedMask, encodeMask, maskToSegmentation, rleToMask, rleToString } from "./eval/rle_encode.ts";
export { predictDataset, type PredictDatasetOptions } from "./model/predict_dataset.ts";

// The decoupled baselines: classifier re-training (cRT), learnable weight scaling (LWS), tau-norm.
export {
  type RetrainableDetector,
  retrainClassifier,
  type RetrainMethod,
  type RetrainOptions,
  type RetrainResult,
} from "./model/decoupled/retrain_classifier.ts";
export { type ClassifierShape, TAU_RANGE, tauNormalize } from "./model/decoupled/tau_norm.ts";
export { chooseTau, type ChooseTauOptions, heldOutImages, type TauTrial } from "./model/decoupled/choose_tau.ts";

// Stages and pipelines.
export { defineStage, directContext, type StageContext, type StageKind } from "./pipeline/stage.ts";
export { StageRegistry } from "./pipeline/registry.ts";
export { defaultRegistry } from "./tasks/registry.ts";
export { loadPipeline } from "./pipeline/pipeline_file.ts";
export { planPipeline } from "./pipeline/plan.ts";
export { runPlan } from "./pipeline/runner.ts";
export { runOneStage } from "./pipeline/stage_run.ts";
export { EXPORT_TARGETS, exportPipeline, type ExportTarget } from "./pipeline/export/export_pipeline.ts";
export { trainStage } from "./tasks/train.ts";
export { predictStage } from "./tasks/predict.ts";
export { evalStage } from "./tasks/eval.ts";
export { synthStage } from "./tasks/synth.ts";
export { ingestStage } from "./tasks/ingest.ts";
export { reportStage } from "./tasks/report.ts";
export { RETRAIN_SAMPLERS, retrainParams, retrainStage } from "./tasks/retrain.ts";

export { InputError } from "./core/errors.ts";
export { Rng } from "./core/rng.ts";
