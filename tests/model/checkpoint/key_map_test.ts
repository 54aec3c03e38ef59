/**
 * Key names: torchvision before and after 0.14, ImageNet ResNets from
 * torchvision and timm, and mmdetection 2.x, each renamed into torchvision
 * 0.14's names and compared with the same weights as torch wrote them.
 */
import assert from "node:assert/strict";
import { decodeWeights } from "../../../model/checkpoint/read.ts";
import { describeStateDict } from "../../../model/checkpoint/describe.ts";
import { detectNaming, toTorchvisionNames } from "../../../model/checkpoint/key_map.ts";
import type { NamedArray } from "../../../model/checkpoint/safetensors.ts";
import { assertInputError, assertSameTensors, readFixture, TINY_CLASSES, tinyLayout } from "./_fixtures.ts";

const read = (file: string) => decodeWeights(readFixture(file), file).tensors;
const tv = read("tiny_tv.safetensors");
const C = TINY_CLASSES;

Deno.test("toTorchvisionNames() keeps torchvision 0.14 names and renames the names from before 0.14", () => {
  const now = toTorchvisionNames(tv, "tv.safetensors");
  assert.equal(now.naming, "torchvision");
  assert.deepEqual([...now.tensors.keys()], [...tinyLayout().keys()]);
  const old = read("tiny_tv_old_legacy.pth");
  assert.ok(old.has("rpn.head.conv.weight") && old.has("backbone.fpn.inner_blocks.2.bias"));
  assert.ok(old.has("roi_heads.mask_head.mask_fcn4.weight"));
  assertSameTensors(toTorchvisionNames(old, "old.pth").tensors, tv);
});

Deno.test("toTorchvisionNames() refuses a file with both spellings of one parameter", () => {
  const both = new Map(tv);
  both.set("rpn.head.conv.weight", tv.get("rpn.head.conv.0.0.weight")!);
  assertInputError(() => toTorchvisionNames(both, "both.pth"), '"both.pth"', '"rpn.head.conv.weight"', "both name");
});

/** `t` with its first `rows` rows zeroed: the background slots mmdetection has no weights for. */
function zeroRows(t: NamedArray, rows: number): NamedArray {
  const data = t.data.slice();
  data.fill(0, 0, rows * (t.data.length / t.shape[0]));
  return { shape: t.shape, data };
}

for (const [file, agnostic] of [["tiny_mmdet.pth", false], ["tiny_mmdet_agnostic.pth", true]] as const) {
  Deno.test(`toTorchvisionNames() maps mmdetection 2.x names and class rows of ${file}`, () => {
    const raw = read(file);
    assert.ok(raw.has("neck.lateral_convs.0.conv.weight") && raw.has("roi_head.mask_head.conv_logits.bias"));
    assert.equal(raw.get("roi_head.bbox_head.fc_reg.bias")!.shape[0], agnostic ? 4 : 4 * C);
    const sd = toTorchvisionNames(raw, file);
    assert.equal(sd.naming, "mmdetection");
    assert.ok(sd.dropped.length > 50 && sd.dropped.every((d) => d.key.endsWith(".num_batches_tracked")));
    const want = new Map(tv);
    for (const part of ["weight", "bias"]) {
      const masks = `roi_heads.mask_predictor.mask_fcn_logits.${part}`;
      want.set(masks, zeroRows(tv.get(masks)!, 1));
      const boxes = `roi_heads.box_predictor.bbox_pred.${part}`, b = tv.get(boxes)!;
      if (!agnostic) want.set(boxes, zeroRows(b, 4));
      else {
        // An agnostic regressor becomes the same 4 rows for every class, background included.
        const block = b.data.length / (C + 1), data = new Float32Array(b.data.length);
        for (let c = 0; c <= C; c++) data.set(b.data.subarray(block, 2 * block), c * block);
        want.set(boxes, { shape: b.shape, data });
      }
    }
    assertSameTensors(sd.tensors, want);
  });
}

Deno.test("toTorchvisionNames() refuses mmdetection's softmax RPN and 1.x names", () => {
  assertInputError(
    () => toTorchvisionNames(read("tiny_mmdet_softmax_rpn.pth"), "rpn.pth"),
    '"rpn.pth"',
    '"rpn_head.rpn_cls" has 6 outputs for 3 anchors',
    "softmax",
  );
  const v1 = new Map([["backbone.conv1.weight", tv.get("backbone.body.conv1.weight")!]]);
  v1.set("bbox_head.fc_cls.weight", tv.get("roi_heads.box_predictor.cls_score.weight")!);
  assertInputError(() => toTorchvisionNames(v1, "v1.pth"), '"v1.pth"', "mmdetection 1.x");
});

for (const file of ["tiny_resnet.pth", "tiny_resnet_timm.safetensors"]) {
  Deno.test(`toTorchvisionNames() puts the ImageNet ResNet of ${file} under backbone.body. and drops fc`, () => {
    const sd = toTorchvisionNames(read(file), file);
    assert.equal(sd.naming, "resnet");
    const body = new Map([...tv].filter(([k]) => k.startsWith("backbone.body.")));
    assertSameTensors(sd.tensors, body);
    const why = new Set(sd.dropped.map((d) => d.why));
    assert.deepEqual([...why].sort(), ["a batch-norm counter", "the ImageNet classifier"]);
  });
}

Deno.test("detectNaming() and describeStateDict() tell the spellings and architectures apart", () => {
  assert.equal(detectNaming(["backbone.stem.conv.weight", "roi.cls.weight"]), "tailor");
  assert.equal(detectNaming(["backbone.conv1.weight", "backbone.layer1.0.conv1.weight"]), "mmdetection");
  const shapes = [...tinyLayout()];
  const named = (keys: [string, number[]][]) =>
    toTorchvisionNames(new Map(keys.map(([k, s]) => [k, { shape: s, data: new Float32Array(0) }])), "x");
  assert.equal(
    describeStateDict(named(shapes)),
    `a torchvision Mask R-CNN with a ResNet-50 backbone (${C} classes and background)`,
  );
  // ResNet-101: 23 blocks in layer3; a Faster R-CNN: no mask branch.
  const r101 = shapes.filter(([k]) => !k.startsWith("roi_heads.mask_"));
  for (let b = 6; b < 23; b++) r101.push([`backbone.body.layer3.${b}.conv1.weight`, [1]]);
  assert.match(describeStateDict(named(r101)), /^a torchvision Faster R-CNN with a ResNet-101 backbone/);
  const resnet = shapes.filter(([k]) => k.startsWith("backbone.body.")).map(([k, s]) => [k.slice(14), s]);
  assert.equal(describeStateDict(named(resnet as [string, number[]][])), "a ResNet-50 ImageNet classifier");
  assert.match(describeStateDict(named([["blocks.0.attn.qkv.weight", [1]]])), /^1 tensors such as "blocks/);
});
