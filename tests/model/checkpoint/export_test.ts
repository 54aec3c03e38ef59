/**
 * Export to torchvision-named safetensors. The bytes of the tiny export are
 * committed (tiny_tv_export.safetensors) and were checked with torch by
 * roundtrip.py; CI, without torch, checks that tailor still writes them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exportTorchvision } from "../../../model/checkpoint/export.ts";
import { repeatRows } from "../../../model/checkpoint/key_map.ts";
import { decodeWeights } from "../../../model/checkpoint/read.ts";
import { encodeSafetensors, type NamedArray, readSafetensors } from "../../../model/checkpoint/safetensors.ts";
import { assertRejectsInput, assertSameTensors, fixture, readFixture, TINY_CLASSES } from "./_fixtures.ts";

const dir = await Deno.makeTempDir({ prefix: "tailor_export_" });
const tv = decodeWeights(readFixture("tiny_tv.safetensors"), "tv").tensors;
const C = TINY_CLASSES;

Deno.test("exportTorchvision() writes the committed bytes for torchvision's pre-0.14 file", async () => {
  const out = join(dir, "tv.safetensors");
  const r = await exportTorchvision({ weights: fixture("tiny_tv_old_legacy.pth") }, out);
  assert.deepEqual(r, { tensors: tv.size, naming: "torchvision", torchvision: true });
  assert.deepEqual(await Deno.readFile(out), readFixture("tiny_tv_export.safetensors"));
  const back = await readSafetensors(out);
  assertSameTensors(back.tensors, tv);
  assert.deepEqual(back.metadata, { format: "pt", producer: "tailor", names: "torchvision" });
});

Deno.test("exportTorchvision() converts a model folder's class-agnostic boxes and foreground masks", async () => {
  const model = join(dir, "model_tv");
  await Deno.mkdir(model);
  // The sigmoid losses' layout: classifier rows as torchvision's, one box for all classes, and (as
  // other tools keep them) masks for the foreground classes only.
  const tailor = new Map(tv);
  const fc = tv.get("roi_heads.box_head.fc7.bias")!.shape[0];
  const agnostic = { shape: [4, fc], data: Float32Array.from({ length: 4 * fc }, (_, i) => i / 7 - 1) };
  const agnosticBias = { shape: [4], data: Float32Array.of(0.5, -0.25, 0.125, 2) };
  for (const part of ["weight", "bias"]) {
    const scores = `roi_heads.box_predictor.cls_score.${part}`,
      masks = `roi_heads.mask_predictor.mask_fcn_logits.${part}`;
    tailor.set(scores, tv.get(scores)!);
    const m = tv.get(masks)!, row = m.data.length / (C + 1);
    tailor.set(masks, { shape: [C, ...m.shape.slice(1)], data: m.data.slice(row) });
  }
  tailor.set("roi_heads.box_predictor.bbox_pred.weight", agnostic);
  tailor.set("roi_heads.box_predictor.bbox_pred.bias", agnosticBias);
  tailor.set("optim.momentum.roi_heads.box_head.fc6.bias", tv.get("roi_heads.box_head.fc6.bias")!);
  await Deno.writeFile(join(model, "weights.safetensors"), encodeSafetensors(tailor));
  await Deno.writeTextFile(join(model, "model.json"), JSON.stringify({ preset: "r50_fpn", numClasses: C }));
  const out = join(dir, "from_model.safetensors");
  await exportTorchvision({ model }, out);
  const want = new Map(tv);
  want.set("roi_heads.box_predictor.bbox_pred.weight", repeatRows(agnostic, C + 1));
  want.set("roi_heads.box_predictor.bbox_pred.bias", repeatRows(agnosticBias, C + 1));
  for (const part of ["weight", "bias"]) {
    const masks = `roi_heads.mask_predictor.mask_fcn_logits.${part}`, m = tv.get(masks)!;
    const data = m.data.slice();
    data.fill(0, 0, m.data.length / (C + 1));
    want.set(masks, { shape: m.shape, data });
  }
  assertSameTensors((await readSafetensors(out)).tensors, want);
});

Deno.test("exportTorchvision() gives a class-agnostic mask channel to every class", async () => {
  const model = join(dir, "model_agnostic_mask");
  await Deno.mkdir(model);
  const tailor = new Map(tv), want = new Map(tv);
  for (const part of ["weight", "bias"]) {
    const masks = `roi_heads.mask_predictor.mask_fcn_logits.${part}`, m = tv.get(masks)!;
    const row = m.data.length / (C + 1);
    // Row 2 of the fixture, so that a copy of torchvision's row 0 or 1 would not pass.
    const one = { shape: [1, ...m.shape.slice(1)], data: m.data.slice(2 * row, 3 * row) };
    tailor.set(masks, one);
    want.set(masks, repeatRows(one, C + 1));
  }
  await Deno.writeFile(join(model, "weights.safetensors"), encodeSafetensors(tailor));
  await Deno.writeTextFile(join(model, "model.json"), JSON.stringify({ preset: "r50_fpn", numClasses: C }));
  const out = join(dir, "agnostic_mask.safetensors");
  await exportTorchvision({ model }, out);
  assertSameTensors((await readSafetensors(out)).tensors, want);
});

Deno.test("exportTorchvision() keeps tailor's names for presets without a torchvision counterpart", async () => {
  const model = join(dir, "model_tiny");
  await Deno.mkdir(model);
  const tiny = new Map<string, NamedArray>([
    ["backbone.stem.conv.weight", { shape: [2, 1, 1, 1], data: Float32Array.of(1, 2) }],
    ["roi.cls.weight", { shape: [1, 3], data: Float32Array.of(3, 4, 5) }],
    ["optim.momentum.roi.cls.weight", { shape: [1, 3], data: Float32Array.of(0, 0, 0) }],
  ]);
  await Deno.writeFile(join(model, "weights.safetensors"), encodeSafetensors(tiny));
  await Deno.writeTextFile(join(model, "model.json"), JSON.stringify({ preset: "tiny", numClasses: 2 }));
  const out = join(dir, "tiny.safetensors");
  assert.deepEqual(await exportTorchvision({ model }, out), { tensors: 2, naming: "tailor", torchvision: false });
  tiny.delete("optim.momentum.roi.cls.weight");
  assertSameTensors((await readSafetensors(out)).tensors, tiny);
});

Deno.test("exportTorchvision() leaves an existing output untouched when the input is refused", async () => {
  const out = join(dir, "keep", "out.safetensors");
  await Deno.mkdir(join(dir, "keep"));
  await Deno.writeTextFile(out, "previous export");
  await assertRejectsInput(() => exportTorchvision({ weights: fixture("evil_system.pth") }, out), '"posix.system"');
  await assertRejectsInput(() => exportTorchvision({ model: join(dir, "keep") }, out), "weights.safetensors");
  assert.equal(await Deno.readTextFile(out), "previous export");
  assert.deepEqual([...Deno.readDirSync(join(dir, "keep"))].map((e) => e.name), ["out.safetensors"]);
});

const CLI = new URL("../../../model/cli.ts", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write=/tmp", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task model export converts an mmdetection checkpoint and reports a bad one in one line", async () => {
  const out = join(dir, "cli.safetensors");
  const ok = await cli("export", "--weights", fixture("tiny_mmdet.pth"), "--out", out);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    ok.stdout.trim(),
    `${out}: ${tv.size} float32 tensors, read as mmdetection names, written with torchvision names`,
  );
  assert.deepEqual([...(await readSafetensors(out)).tensors.keys()].sort(), [...tv.keys()].sort());
  const bad = await cli("export", "--weights", fixture("tiny_mmdet_softmax_rpn.pth"), "--out", out);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr.trim(),
    /^error: Cannot read ".*tiny_mmdet_softmax_rpn\.pth": "rpn_head\.rpn_cls" has 6 outputs/,
  );
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  const both = await cli("export", "--out", out);
  assert.equal(both.stderr.trim(), "error: Give exactly one of --model DIR and --weights FILE");
});
