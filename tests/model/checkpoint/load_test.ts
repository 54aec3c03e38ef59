/**
 * loadCheckpointInto() against parameter stores with torchvision's names:
 * every spelling loads the same weights, scopes take what they say, a class
 * count of its own re-initialises the class rows, and every mismatch
 * refuses the file before a single parameter is written.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../../../core/errors.ts";
import { loadCheckpointInto, type LoadOptions, type ParamTarget, planLoad } from "../../../model/checkpoint/load.ts";
import { toTorchvisionNames } from "../../../model/checkpoint/key_map.ts";
import { decodeWeights } from "../../../model/checkpoint/read.ts";
import { encodeSafetensors, type NamedArray, writeSafetensors } from "../../../model/checkpoint/safetensors.ts";
import { maskRcnnR50Layout } from "./_r50_layout.ts";
import { assertRejectsInput, fixture, readFixture, TINY_CLASSES, tinyLayout } from "./_fixtures.ts";

const C = TINY_CLASSES;
const tv = decodeWeights(readFixture("tiny_tv.safetensors"), "tv").tensors;
const dir = await Deno.makeTempDir({ prefix: "tailor_ckpt_" });

/** A parameter store whose values start as NaN, so an unwritten parameter shows. */
class Params implements ParamTarget {
  readonly values = new Map<string, Float32Array>();
  readonly shapes: Map<string, number[]>;
  constructor(layout: Map<string, number[]>) {
    this.shapes = layout;
    for (const [k, s] of layout) this.values.set(k, new Float32Array(s.reduce((a, d) => a * d, 1)).fill(NaN));
  }
  entries(): [string, { shape: number[]; write(data: Float32Array): void }][] {
    return [...this.shapes].map((
      [k, shape],
    ) => [k, { shape, write: (d: Float32Array) => this.values.set(k, d.slice()) }]);
  }
  written(name: string): boolean {
    return !Number.isNaN(this.values.get(name)![0]);
  }
}

async function load(layout: Map<string, number[]>, file: string, opts: Partial<LoadOptions> = {}) {
  const params = new Params(layout), log: string[] = [];
  const plan = await loadCheckpointInto(params, file, {
    scope: "all",
    model: "tiny-r50",
    log: (l) => log.push(l),
    ...opts,
  });
  return { params, log, plan };
}

const rowsOf = (t: NamedArray, from: number, to: number) => {
  const row = t.data.length / t.shape[0];
  return t.data.slice(from * row, to * row);
};

for (const file of ["tiny_tv.safetensors", "tiny_tv_old_legacy.pth", "tiny_mmdet.pth"]) {
  Deno.test(`loadCheckpointInto() loads every parameter of ${file} with torchvision's values`, async () => {
    const { params, log, plan } = await load(tinyLayout(), fixture(file));
    assert.equal(plan.reinitialised.length, 0);
    for (const [k, t] of tv) {
      let want = t.data;
      // mmdetection has no background box or mask: those rows are zero.
      if (file.includes("mmdet") && k.startsWith("roi_heads.box_predictor.bbox_pred.")) want = zeroFirst(t, 4);
      if (file.includes("mmdet") && k.startsWith("roi_heads.mask_predictor.mask_fcn_logits.")) want = zeroFirst(t, 1);
      assert.deepEqual(params.values.get(k), want, k);
    }
    assert.match(log[0], new RegExp(`^loaded ${tv.size} tensors from ".*${file}"`));
  });
}

function zeroFirst(t: NamedArray, rows: number): Float32Array {
  const d = t.data.slice();
  d.fill(0, 0, rows * (t.data.length / t.shape[0]));
  return d;
}

Deno.test("loadCheckpointInto() moves the background row last for tailor's classifiers", async () => {
  const { params } = await load(tinyLayout(), fixture("tiny_tv.safetensors"), { background: "last" });
  const w = tv.get("roi_heads.box_predictor.cls_score.weight")!;
  const got = params.values.get("roi_heads.box_predictor.cls_score.weight")!;
  assert.deepEqual(got.slice(0, C * w.shape[1]), rowsOf(w, 1, C + 1));
  assert.deepEqual(got.slice(C * w.shape[1]), rowsOf(w, 0, 1));
  const b = tv.get("roi_heads.box_predictor.bbox_pred.bias")!;
  assert.deepEqual(params.values.get("roi_heads.box_predictor.bbox_pred.bias")!.slice(4 * C), b.data.slice(0, 4));
});

Deno.test("loadCheckpointInto() fills class-agnostic boxes and foreground masks from an mmdetection file", async () => {
  const layout = tinyLayout();
  const fc = layout.get("roi_heads.box_predictor.bbox_pred.weight")![1];
  layout.set("roi_heads.box_predictor.bbox_pred.weight", [4, fc]);
  layout.set("roi_heads.box_predictor.bbox_pred.bias", [4]);
  const mask = layout.get("roi_heads.mask_predictor.mask_fcn_logits.weight")!;
  layout.set("roi_heads.mask_predictor.mask_fcn_logits.weight", [C, ...mask.slice(1)]);
  layout.set("roi_heads.mask_predictor.mask_fcn_logits.bias", [C]);
  const raw = decodeWeights(readFixture("tiny_mmdet_agnostic.pth"), "a").tensors;
  const { params, plan } = await load(layout, fixture("tiny_mmdet_agnostic.pth"));
  assert.deepEqual(plan.reinitialised, []);
  assert.deepEqual(
    params.values.get("roi_heads.box_predictor.bbox_pred.weight"),
    raw.get("roi_head.bbox_head.fc_reg.weight")!.data,
  );
  assert.deepEqual(
    params.values.get("roi_heads.mask_predictor.mask_fcn_logits.bias"),
    raw.get("roi_head.mask_head.conv_logits.bias")!.data,
  );
  // torchvision's regressor differs per class: it cannot seed one box for all classes.
  const tvLoad = await load(layout, fixture("tiny_tv.safetensors"));
  assert.deepEqual(tvLoad.plan.reinitialised, [
    "roi_heads.box_predictor.bbox_pred.weight",
    "roi_heads.box_predictor.bbox_pred.bias",
  ]);
  assert.ok(tvLoad.log.some((l) => l.includes("regresses boxes per class")));
});

Deno.test("loadCheckpointInto() gives a class-agnostic mask head one mask, or re-initialises it from per-class ones", async () => {
  const layout = tinyLayout();
  for (const [k, s] of layout) {
    if (k.startsWith("roi_heads.mask_predictor.mask_fcn_logits.")) layout.set(k, [1, ...s.slice(1)]);
  }
  // A class-agnostic head exported for torchvision: C+1 equal rows (row 3 of the fixture), of which one is the mask.
  const shared = new Map(tv);
  for (const part of ["weight", "bias"]) {
    const key = `roi_heads.mask_predictor.mask_fcn_logits.${part}`, m = tv.get(key)!;
    const row = rowsOf(m, 3, 4);
    shared.set(key, {
      shape: m.shape,
      data: Float32Array.from({ length: m.data.length }, (_, i) => row[i % row.length]),
    });
  }
  const file = join(dir, "agnostic_masks.safetensors");
  await Deno.writeFile(file, encodeSafetensors(shared));
  const agnostic = await load(layout, file);
  assert.deepEqual(agnostic.plan.reinitialised, [], agnostic.log.join("\n"));
  for (const part of ["weight", "bias"]) {
    const key = `roi_heads.mask_predictor.mask_fcn_logits.${part}`;
    assert.deepEqual(agnostic.params.values.get(key), rowsOf(tv.get(key)!, 3, 4), part);
  }
  // torchvision's masks differ per class: none of them is every class's mask.
  const perClass = await load(layout, fixture("tiny_tv.safetensors"));
  assert.deepEqual(perClass.plan.reinitialised, [
    "roi_heads.mask_predictor.mask_fcn_logits.weight",
    "roi_heads.mask_predictor.mask_fcn_logits.bias",
  ]);
  assert.ok(perClass.log.some((l) => l.includes("the file has a mask per class, the model one mask for all classes")));
});

Deno.test("loadCheckpointInto() re-initialises the class rows for another class count and says so", async () => {
  const layout = tinyLayout(), classes = 5;
  for (const [k, s] of layout) {
    if (k.startsWith("roi_heads.box_predictor.cls_score.")) layout.set(k, [classes + 1, ...s.slice(1)]);
    if (k.startsWith("roi_heads.box_predictor.bbox_pred.")) layout.set(k, [4 * (classes + 1), ...s.slice(1)]);
    if (k.startsWith("roi_heads.mask_predictor.mask_fcn_logits.")) layout.set(k, [classes + 1, ...s.slice(1)]);
  }
  const { params, log, plan } = await load(layout, fixture("tiny_mmdet.pth"), { numClasses: classes });
  assert.equal(plan.reinitialised.length, 6);
  for (const k of layout.keys()) assert.equal(params.written(k), !plan.reinitialised.includes(k), k);
  assert.ok(
    log.some((l) =>
      l.startsWith("re-initialised roi_heads.box_predictor.cls_score.weight") &&
      l.includes(`file has ${C} classes, the model ${classes}`)
    ),
  );
});

Deno.test("loadCheckpointInto() with scope backbone loads an ImageNet ResNet or a detector's backbone only", async () => {
  for (const file of ["tiny_resnet.pth", "tiny_resnet_timm.safetensors", "tiny_mmdet.pth"]) {
    const { params, log } = await load(tinyLayout(), fixture(file), { scope: "backbone" });
    for (const k of tinyLayout().keys()) {
      assert.equal(params.written(k), k.startsWith("backbone.body."), `${file}: ${k}`);
      if (k.startsWith("backbone.body.")) assert.deepEqual(params.values.get(k), tv.get(k)!.data);
    }
    if (file.includes("resnet")) {
      assert.ok(log.some((l) => l.includes("(a batch-norm counter, the ImageNet classifier)")), file);
    } else assert.ok(log.some((l) => /left out \d+ tensors outside the backbone scope/.test(l)));
  }
});

Deno.test("loadCheckpointInto() refuses another architecture in one line saying what the file looks like", async () => {
  const params = new Params(tinyLayout());
  await assertRejectsInput(
    () => loadCheckpointInto(params, fixture("tiny_resnet.pth"), { scope: "all", model: "tiny-r50" }),
    'tiny_resnet.pth" is not a checkpoint for tiny-r50',
    "a ResNet-50 ImageNet classifier",
    "load it with scope: backbone",
  );
  await assertRejectsInput(
    () => loadCheckpointInto(params, fixture("zoo.pth"), { scope: "all", model: "tiny-r50" }),
    '16 tensors such as "f32"',
    `0 of the model's ${tinyLayout().size} tensors`,
  );
  assert.ok([...params.values.keys()].every((k) => !params.written(k)), "a refused file wrote parameters");
});

Deno.test("loadCheckpointInto() lists missing, unexpected and wrongly shaped tensors and writes none", async () => {
  const sd = new Map(tv);
  const names = [...sd.keys()];
  for (const k of names.slice(10, 13)) sd.delete(k);
  sd.set("roi_heads.extra.weight", { shape: [2], data: Float32Array.of(1, 2) });
  sd.set("backbone.fpn.extra_blocks.p6.bias", { shape: [1], data: Float32Array.of(1) });
  sd.set(names[20], { shape: [1, 2], data: Float32Array.of(1, 2) });
  const file = join(dir, "mismatch.safetensors");
  await writeSafetensors(file, sd);
  const params = new Params(tinyLayout());
  const msg = await assertRejectsInput(
    () => loadCheckpointInto(params, file, { scope: "all", model: "tiny-r50" }),
    `Weights in "${file}" do not fit tiny-r50 (3 missing, 2 unexpected, 1 wrongly shaped)`,
    `missing "${names[10]}"`,
    `"${names[20]}" is [1,2] in the file, [${tinyLayout().get(names[20])}] in the model`,
    'unexpected "roi_heads.extra.weight" [2]',
  );
  assert.ok(!msg.includes("more"));
  assert.ok([...params.values.keys()].every((k) => !params.written(k)), "a refused file wrote parameters");
  // More than ten problems: the first ten and a count.
  for (const k of names.slice(30, 50)) sd.delete(k);
  await writeSafetensors(file, sd);
  await assertRejectsInput(
    () => loadCheckpointInto(params, file, { scope: "all" }),
    "(23 missing, 2 unexpected",
    "; and 16 more",
  );
});

Deno.test("loadCheckpointInto() names a missing or broken file", async () => {
  const params = new Params(tinyLayout());
  await assertRejectsInput(() => loadCheckpointInto(params, join(dir, "nope.pth"), { scope: "all" }), "nope.pth");
  await Deno.writeFile(join(dir, "cut.pth"), readFixture("tiny_mmdet.pth").subarray(0, 5000));
  await assert.rejects(() => loadCheckpointInto(params, join(dir, "cut.pth"), { scope: "all" }), InputError);
});

Deno.test("maskRcnnR50Layout() is the parameter list torchvision 0.14 printed", () => {
  const torch = JSON.parse(Deno.readTextFileSync(fixture("maskrcnn_r50_fpn_keys.json")));
  assert.deepEqual([...maskRcnnR50Layout()], Object.entries(torch));
});

/** The torchvision name of each mmdetection 2.x name, stated the other way round from MMDET_RULES. */
function mmdetName(tv: string): string {
  const swaps: [RegExp, string][] = [
    [/^backbone\.body\./, "backbone."],
    [/^backbone\.fpn\.inner_blocks\.(\d)\.0\./, "neck.lateral_convs.$1.conv."],
    [/^backbone\.fpn\.layer_blocks\.(\d)\.0\./, "neck.fpn_convs.$1.conv."],
    [/^rpn\.head\.conv\.0\.0\./, "rpn_head.rpn_conv."],
    [/^rpn\.head\.cls_logits\./, "rpn_head.rpn_cls."],
    [/^rpn\.head\.bbox_pred\./, "rpn_head.rpn_reg."],
    [/^roi_heads\.box_head\.fc6\./, "roi_head.bbox_head.shared_fcs.0."],
    [/^roi_heads\.box_head\.fc7\./, "roi_head.bbox_head.shared_fcs.1."],
    [/^roi_heads\.box_predictor\.cls_score\./, "roi_head.bbox_head.fc_cls."],
    [/^roi_heads\.box_predictor\.bbox_pred\./, "roi_head.bbox_head.fc_reg."],
    [/^roi_heads\.mask_head\.(\d)\.0\./, "roi_head.mask_head.convs.$1.conv."],
    [/^roi_heads\.mask_predictor\.conv5_mask\./, "roi_head.mask_head.upsample."],
    [/^roi_heads\.mask_predictor\.mask_fcn_logits\./, "roi_head.mask_head.conv_logits."],
  ];
  for (const [re, to] of swaps) if (re.test(tv)) return tv.replace(re, to);
  throw new Error(`no mmdetection name for ${tv}`);
}

Deno.test("planLoad() maps an mmdetection Mask R-CNN R50-FPN of the real shapes, LVIS-sized", () => {
  const classes = 1203, layout = maskRcnnR50Layout(classes + 1);
  // Values that name their tensor and element, so a moved row or a swapped tensor shows.
  const value = (key: number, i: number) => key + (i % 4093) / 4096;
  const sd = new Map<string, NamedArray>();
  [...layout].forEach(([name, shape], key) => {
    let rows = shape[0];
    if (name.startsWith("roi_heads.box_predictor.bbox_pred.")) rows = 4 * classes;
    if (name.startsWith("roi_heads.mask_predictor.mask_fcn_logits.")) rows = classes;
    const s = [rows, ...shape.slice(1)], data = new Float32Array(s.reduce((a, d) => a * d, 1));
    for (let i = 0; i < Math.min(4093, data.length); i++) data[i] = value(key, i);
    for (let n = 4093; n < data.length; n *= 2) data.copyWithin(n, 0, n);
    sd.set(mmdetName(name), { shape: s, data });
    if (name.endsWith("running_var")) {
      sd.set(mmdetName(name).replace("running_var", "num_batches_tracked"), { shape: [], data: Float32Array.of(0) });
    }
  });
  // Through the bytes of a file, in memory: the disk adds nothing the small fixtures do not test.
  const file = decodeWeights(encodeSafetensors(sd), "mmdet_r50.safetensors");
  sd.clear();
  const opts = { scope: "all", numClasses: classes, background: "last" } as const;
  const { writes } = planLoad(layout, toTorchvisionNames(file.tensors, "mmdet_r50.safetensors"), "x", opts);
  assert.equal(writes.size, layout.size);
  /** The first index in [from, to) of `got` that is not `want(i)`, or -1. */
  const firstWrong = (got: Float32Array, from: number, to: number, want: (i: number) => number) => {
    for (let i = from; i < to; i++) if (got[i] !== want(i)) return i;
    return -1;
  };
  [...layout].forEach(([name, shape], key) => {
    const got = writes.get(name)!, row = got.length / shape[0];
    // Background last in tailor as in mmdetection: its rows stay; the missing background box and mask are zero.
    const fileRows = name.startsWith("roi_heads.box_predictor.bbox_pred.")
      ? 4 * classes
      : name.startsWith("roi_heads.mask_predictor.mask_fcn_logits.")
      ? classes
      : shape[0];
    assert.equal(firstWrong(got, 0, fileRows * row, (i) => value(key, i)), -1, name);
    assert.equal(firstWrong(got, fileRows * row, got.length, () => 0), -1, name);
  });
});
