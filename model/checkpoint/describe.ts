/** A state dict in a few words for refusals: "a torchvision Faster R-CNN with a ResNet-101 backbone (91 classes)". */
import { quote } from "../../core/errors.ts";
import { CLASS_PARAMS, type TorchvisionStateDict } from "./key_map.ts";

/** ResNets by blocks per stage (ResNet-34 and -50 share theirs and differ in the block). */
const RESNETS: Record<string, string> = { "2,2,2,2": "ResNet-18", "3,4,23,3": "ResNet-101", "3,8,36,3": "ResNet-152" };

/** "ResNet-50", "ResNet-34", ..., or null when `keys` hold no ResNet under `prefix`. */
function resnetDepth(keys: string[], prefix: string): string | null {
  const blocks = [1, 2, 3, 4].map((stage) => {
    const head = `${prefix}layer${stage}.`;
    let n = 0;
    for (const k of keys) if (k.startsWith(head)) n = Math.max(n, Number(k.slice(head.length).split(".")[0]) + 1);
    return n;
  }).join();
  if (blocks === "0,0,0,0") return null;
  const bottleneck = keys.some((k) => k.startsWith(`${prefix}layer1.0.conv3.`));
  if (blocks === "3,4,6,3") return bottleneck ? "ResNet-50" : "ResNet-34";
  return RESNETS[blocks] ?? `ResNet with [${blocks}] blocks per stage`;
}

/** A short description of `sd` (already in torchvision's names). */
export function describeStateDict(sd: TorchvisionStateDict): string {
  const keys = [...sd.tensors.keys()];
  const has = (prefix: string) => keys.some((k) => k.startsWith(prefix));
  const scores = sd.tensors.get(`${CLASS_PARAMS.scores}.bias`);
  const classes = scores ? ` (${scores.shape[0] - 1} classes and background)` : "";
  const origin = sd.naming === "mmdetection" ? "an mmdetection" : "a torchvision";
  if (sd.naming === "resnet") return `a ${resnetDepth(keys, "backbone.body.") ?? "ResNet"} ImageNet classifier`;
  if (has("backbone.body.") || sd.naming === "mmdetection") {
    const kind = has("roi_heads.mask_")
      ? "Mask R-CNN"
      : has("roi_heads.")
      ? "Faster R-CNN"
      : has("rpn.")
      ? "RPN"
      : null;
    const backbone = resnetDepth(keys, "backbone.body.") ?? "non-ResNet";
    if (kind) return `${origin} ${kind} with a ${backbone} backbone${classes}`;
    if (has("head.classification_head.")) return `${origin} RetinaNet with a ${backbone} backbone`;
    return `${origin} model with a ${backbone} backbone`;
  }
  if (has("backbone.bottom_up.")) return "a detectron2 model (detectron2's key names are not mapped)";
  const sample = keys.slice(0, 3).map((k) => quote(k)).join(", ");
  return `${keys.length} tensors such as ${sample}`;
}
