/**
 * Renames state dicts into torchvision 0.14 `maskrcnn_resnet50_fpn` names (tailor's own) and class rows
 * into its conventions (background first): torchvision < 0.14, ImageNet ResNets, mmdetection 2.x/3.x.
 */
import { InputError, quote } from "../../core/errors.ts";
import type { NamedArray } from "./safetensors.ts";

export type Naming = "torchvision" | "resnet" | "mmdetection" | "tailor";

export interface TorchvisionStateDict {
  tensors: Map<string, NamedArray>;
  naming: Naming;
  /** Keys left out on purpose, with why. */
  dropped: { key: string; why: string }[];
}

/** torchvision's class-dependent parameters: the box classifier and regressor, the mask logits. */
export const CLASS_PARAMS = {
  scores: "roi_heads.box_predictor.cls_score",
  boxes: "roi_heads.box_predictor.bbox_pred",
  masks: "roi_heads.mask_predictor.mask_fcn_logits",
} as const;

type Rule = [RegExp, string];

/** torchvision before 0.14 -> 0.14 (what torchvision's own `_load_from_state_dict` hooks rename). */
const TORCHVISION_OLD_RULES: Rule[] = [
  [/^rpn\.head\.conv\.(weight|bias)$/, "rpn.head.conv.0.0.$1"],
  [/^backbone\.fpn\.(inner_blocks|layer_blocks)\.(\d+)\.(weight|bias)$/, "backbone.fpn.$1.$2.0.$3"],
];

/** mmdetection 2.x Mask R-CNN R50-FPN -> torchvision; class rows (`fc_cls`, `fc_reg`, `conv_logits`) follow later. */
export const MMDET_RULES: Rule[] = [
  [/^backbone\.((?:conv1|bn1|layer\d+)\..+)$/, "backbone.body.$1"],
  [/^neck\.lateral_convs\.(\d+)\.conv\.(weight|bias)$/, "backbone.fpn.inner_blocks.$1.0.$2"],
  [/^neck\.fpn_convs\.(\d+)\.conv\.(weight|bias)$/, "backbone.fpn.layer_blocks.$1.0.$2"],
  [/^rpn_head\.rpn_conv\.(weight|bias)$/, "rpn.head.conv.0.0.$1"],
  [/^rpn_head\.rpn_cls\.(weight|bias)$/, "rpn.head.cls_logits.$1"],
  [/^rpn_head\.rpn_reg\.(weight|bias)$/, "rpn.head.bbox_pred.$1"],
  [/^roi_head\.bbox_head\.shared_fcs\.0\.(weight|bias)$/, "roi_heads.box_head.fc6.$1"],
  [/^roi_head\.bbox_head\.shared_fcs\.1\.(weight|bias)$/, "roi_heads.box_head.fc7.$1"],
  [/^roi_head\.bbox_head\.fc_cls\.(weight|bias)$/, `${CLASS_PARAMS.scores}.$1`],
  [/^roi_head\.bbox_head\.fc_reg\.(weight|bias)$/, `${CLASS_PARAMS.boxes}.$1`],
  [/^roi_head\.mask_head\.convs\.(\d+)\.conv\.(weight|bias)$/, "roi_heads.mask_head.$1.0.$2"],
  [/^roi_head\.mask_head\.upsample\.(weight|bias)$/, "roi_heads.mask_predictor.conv5_mask.$1"],
  [/^roi_head\.mask_head\.conv_logits\.(weight|bias)$/, `${CLASS_PARAMS.masks}.$1`],
];

export function detectNaming(keys: string[]): Naming {
  const has = (re: RegExp) => keys.some((k) => re.test(k));
  if (has(/^(rpn_head|roi_head|neck)\./) || (has(/^backbone\.(conv1|layer1)\./) && !has(/^backbone\.body\./))) {
    return "mmdetection";
  }
  if (has(/^conv1\.weight$/) && has(/^layer1\./)) return "resnet";
  if (has(/^backbone\.body\./) || has(/^(rpn|roi_heads)\./)) return "torchvision";
  return "tailor";
}

function rename(key: string, rules: Rule[]): string | null {
  for (const [re, to] of rules) if (re.test(key)) return key.replace(re, to);
  return null;
}

/**
 * Rename a state dict into torchvision's names and conventions. Throws an `InputError` naming `file` for
 * what cannot convert exactly: an mmdetection softmax RPN, mmdetection 1.x names, two keys for one parameter.
 */
export function toTorchvisionNames(tensors: Map<string, NamedArray>, file: string): TorchvisionStateDict {
  const naming = detectNaming([...tensors.keys()]);
  const out = new Map<string, NamedArray>();
  const dropped: TorchvisionStateDict["dropped"] = [];
  const from = new Map<string, string>();
  for (const [key, t] of tensors) {
    if (key.endsWith(".num_batches_tracked")) {
      dropped.push({ key, why: "a batch-norm counter" });
      continue;
    }
    if (key.startsWith("optim.")) {
      dropped.push({ key, why: "optimizer state" });
      continue;
    }
    let name = key;
    if (naming === "resnet") {
      if (/^fc\./.test(key)) {
        dropped.push({ key, why: "the ImageNet classifier" });
        continue;
      }
      name = `backbone.body.${key}`;
    } else if (naming === "mmdetection") {
      name = rename(key, MMDET_RULES) ?? key;
    } else if (naming === "torchvision") {
      const mask = /^roi_heads\.mask_head\.mask_fcn(\d+)\.(weight|bias)$/.exec(key);
      name = mask
        ? `roi_heads.mask_head.${Number(mask[1]) - 1}.0.${mask[2]}`
        : rename(key, TORCHVISION_OLD_RULES) ?? key;
    }
    const before = from.get(name);
    if (before !== undefined) {
      throw new InputError(`Cannot read "${file}": ${quote(before)} and ${quote(key)} both name ${quote(name)}`);
    }
    from.set(name, key);
    out.set(name, t);
  }
  if (naming === "mmdetection") mmdetClassRows(out, file);
  return { tensors: out, naming, dropped };
}

/** mmdetection's background-last classifier, foreground-only boxes and masks -> torchvision's. */
function mmdetClassRows(sd: Map<string, NamedArray>, file: string): void {
  const fail = (why: string) => new InputError(`Cannot read "${file}": ${why}`);
  if ([...sd.keys()].some((k) => /^(bbox_head|mask_head)\./.test(k))) {
    throw fail("mmdetection 1.x key names (bbox_head at the top level); upgrade it with mmdetection 2.x first");
  }
  const rpnCls = sd.get("rpn.head.cls_logits.bias"), rpnReg = sd.get("rpn.head.bbox_pred.bias");
  if (rpnCls && rpnReg && rpnCls.shape[0] !== rpnReg.shape[0] / 4) {
    throw fail(
      `"rpn_head.rpn_cls" has ${rpnCls.shape[0]} outputs for ${rpnReg.shape[0] / 4} anchors: a softmax RPN, ` +
        "whose class order changed between mmdetection versions; tailor reads sigmoid RPNs (use_sigmoid=True)",
    );
  }
  const scores = sd.get(`${CLASS_PARAMS.scores}.bias`);
  if (!scores) return;
  const classes = scores.shape[0] - 1;
  for (const part of ["weight", "bias"]) {
    const s = sd.get(`${CLASS_PARAMS.scores}.${part}`);
    if (s) sd.set(`${CLASS_PARAMS.scores}.${part}`, moveRows(s, 1, "last", "first"));
    const b = sd.get(`${CLASS_PARAMS.boxes}.${part}`);
    if (b) {
      const perClass = b.shape[0] / 4;
      if (perClass === classes) sd.set(`${CLASS_PARAMS.boxes}.${part}`, padBackground(b, 4));
      else if (perClass === 1) sd.set(`${CLASS_PARAMS.boxes}.${part}`, repeatRows(b, classes + 1));
      else throw fail(`"roi_head.bbox_head.fc_reg.${part}" has ${b.shape[0]} rows for ${classes} classes`);
    }
    const m = sd.get(`${CLASS_PARAMS.masks}.${part}`);
    if (m) {
      if (m.shape[0] === classes) sd.set(`${CLASS_PARAMS.masks}.${part}`, padBackground(m, 1));
      else if (m.shape[0] === 1) sd.set(`${CLASS_PARAMS.masks}.${part}`, repeatRows(m, classes + 1));
      else throw fail(`"roi_head.mask_head.conv_logits.${part}" has ${m.shape[0]} rows for ${classes} classes`);
    }
  }
}

/** Values per row of `t` (the product of all but the first dimension). */
function rowSize(t: NamedArray): number {
  return t.shape.slice(1).reduce((a, d) => a * d, 1);
}

/** Move the background block (`block` rows) of `t` to the other end: the other convention. */
export function moveRows(t: NamedArray, block: number, from: "first" | "last", to: "first" | "last"): NamedArray {
  if (from === to) return t;
  const n = block * rowSize(t), data = new Float32Array(t.data.length);
  if (from === "last") {
    data.set(t.data.subarray(t.data.length - n), 0);
    data.set(t.data.subarray(0, t.data.length - n), n);
  } else {
    data.set(t.data.subarray(n), 0);
    data.set(t.data.subarray(0, n), t.data.length - n);
  }
  return { shape: [...t.shape], data };
}

/** `t` with `block` zero rows in front: a background slot that torchvision never reads. */
export function padBackground(t: NamedArray, block: number): NamedArray {
  const n = block * rowSize(t), data = new Float32Array(t.data.length + n);
  data.set(t.data, n);
  return { shape: [t.shape[0] + block, ...t.shape.slice(1)], data };
}

/** `t` stacked `times` times along rows: a class-agnostic head as an equal per-class one. */
export function repeatRows(t: NamedArray, times: number): NamedArray {
  const data = new Float32Array(t.data.length * times);
  for (let i = 0; i < times; i++) data.set(t.data, i * t.data.length);
  return { shape: [t.shape[0] * times, ...t.shape.slice(1)], data };
}
