/**
 * `deno task detect`: detections on plain image files must be the ones the
 * predict stage finds on the same images through an annotation file, from a
 * model folder or from its exported weights alike; drawings and bad input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError, InputErrors } from "../../core/errors.ts";
import { Rng } from "../../core/rng.ts";
import { createLoss } from "../../losses/registry.ts";
import { writeSafetensors } from "../../model/checkpoint/safetensors.ts";
import { exportTorchvision } from "../../model/checkpoint/export.ts";
import { detectorConfig } from "../../model/config.ts";
import { Detector } from "../../model/detector.ts";
import { writeModelCard } from "../../model/model_card.ts";
import { MODEL_WEIGHTS } from "../../model/trained_model.ts";
import { directContext } from "../../pipeline/stage.ts";
import { detectImages } from "../../tasks/detect.ts";
import { predictParams, predictStage } from "../../tasks/predict.ts";
import { gpuTest, SEED } from "../_util.ts";

const EXAMPLE = new URL("../../examples/coco_tiny/", import.meta.url).pathname;
const VAL = join(EXAMPLE, "annotations", "instances_val.json");
const val = JSON.parse(Deno.readTextFileSync(VAL));
const categoryIds: number[] = val.categories.map((c: { id: number }) => c.id);
const categoryNames: string[] = val.categories.map((c: { name: string }) => c.name);

/** A model folder with random weights whose class scores spread (so thresholds select some). */
async function randomModel(seed: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tailor_detect_" });
  const config = detectorConfig("tiny");
  const loss = createLoss("bce", {}, { numClasses: categoryIds.length });
  const det = new Detector(config, categoryIds.length, loss.columns, new Rng(seed));
  det.build();
  const r = new Rng(seed + 1);
  const cls = det.params.get("roi.cls.weight")!;
  cls.write(Float32Array.from({ length: cls.size }, () => r.normal() * 0.3));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, t] of det.params.entries()) tensors.set(k, { shape: [...t.shape], data: await t.toF32() });
  await writeSafetensors(join(dir, MODEL_WEIGHTS), tensors);
  await writeModelCard(dir, {
    preset: "tiny",
    config,
    loss: "bce",
    lossParams: {},
    numClasses: categoryIds.length,
    categoryIds,
    categoryNames,
    lossState: await loss.state(),
    input: { shortSide: 64, maxSize: 1333 },
  });
  loss.dispose();
  det.params.dispose();
  return dir;
}

type Row = { image_id: number; category_id: number; bbox: number[]; score: number };

gpuTest(
  `detect finds on image files what predict finds on the annotated images, from a folder or weights (seed ${SEED})`,
  async () => {
    const model = await randomModel(SEED % 1000);
    const out = await Deno.makeTempDir();
    const threshold = 0.2;
    const predicted = predictStage.output.parse(
      await predictStage.run(
        predictParams.parse({ model, dataset: VAL, imageRoot: EXAMPLE, shortSide: 64, scoreThreshold: 0.05 }),
        directContext(join(out, "predict")),
      ),
    );
    const rows: Row[] = JSON.parse(await Deno.readTextFile(predicted.results));
    const files = val.images.map((im: { file_name: string }) => join(EXAMPLE, im.file_name));
    const logs: string[] = [];
    const r = await detectImages({
      images: [join(EXAMPLE, "val")],
      from: { model },
      scoreThreshold: threshold,
      out: join(out, "dets.json"),
      log: (l) => logs.push(l),
    });
    assert.deepEqual(r.output.images.map((im) => im.file), files, "the folder's images, by name");
    let total = 0;
    for (const [k, im] of r.output.images.entries()) {
      const want = rows.filter((row) => row.image_id === val.images[k].id && row.score >= threshold)
        .sort((a, b) => b.score - a.score);
      assert.deepEqual(
        im.detections.map((d) => [d.category_id, d.bbox, d.score]),
        want.map((w) => [w.category_id, w.bbox, w.score]),
        im.file,
      );
      for (const d of im.detections) {
        assert.equal(d.category, categoryNames[categoryIds.indexOf(d.category_id)]);
        assert.equal(d.mask, null);
      }
      total += want.length;
      assert.deepEqual([im.width, im.height], [val.images[k].width, val.images[k].height]);
    }
    assert.ok(total > 0, "some detections pass the threshold");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(r.json)), r.output);
    assert.equal(logs.filter((l) => l.includes("detections >=")).length, files.length);

    // Drawn: the image enlarged to at least 320 px, a legend below it.
    const drawn = r.output.images.find((im) => im.detections.length)!;
    const png = await Deno.readFile(drawn.drawn!);
    const size = new DataView(png.buffer, png.byteOffset + 16, 8);
    assert.equal(size.getUint32(0), 320);
    assert.ok(size.getUint32(4) > 320, "a legend row below the image");

    // The exported weights, loaded without the card, give the same detections.
    const weights = join(out, "model.safetensors");
    await exportTorchvision({ model }, weights);
    const w = await detectImages({
      images: files,
      from: { weights, preset: "tiny", numClasses: categoryIds.length, loss: "bce" },
      scoreThreshold: threshold,
      shortSide: 64,
      categories: VAL,
      draw: false,
      out: join(out, "w.json"),
    });
    const key = (o: typeof r.output) => o.images.map((im) => im.detections.map((d) => [d.category, d.bbox, d.score]));
    assert.deepEqual(key(w.output), key(r.output));
    assert.ok(w.output.images.every((im) => im.drawn === null));
    await assert.rejects(
      () => detectImages({ images: files, from: { weights, preset: "tiny", numClasses: 3 }, out: join(out, "x.json") }),
      (e: Error) => e instanceof InputError && /^Cannot detect with ".*" and --num-classes 3: /.test(e.message),
    );
    await Deno.remove(out, { recursive: true });
    await Deno.remove(model, { recursive: true });
  },
);

Deno.test("detect names every missing image, an empty folder and an unknown preset before loading a model", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "d.json");
  const from = { model: dir };
  await assert.rejects(
    () => detectImages({ images: [join(dir, "a.jpg"), join(dir, "b.jpg")], from, out }),
    (e: Error) =>
      e instanceof InputErrors && e.problems.length === 2 &&
      e.problems[0] === `Cannot read image ${JSON.stringify(join(dir, "a.jpg"))}: no such file`,
  );
  await assert.rejects(
    () => detectImages({ images: [dir], from, out }),
    (e: Error) => e instanceof InputError && e.message === `No image files in folder ${JSON.stringify(dir)}`,
  );
  await Deno.writeTextFile(join(dir, "x.png"), "not a png");
  await assert.rejects(
    () => detectImages({ images: [dir], from, out }),
    (e: Error) =>
      e instanceof InputError && e.message.startsWith(`Cannot read image ${JSON.stringify(join(dir, "x.png"))}: `),
  );
  await assert.rejects(
    () =>
      detectImages({ images: [join(EXAMPLE, "val")], from: { weights: "w.pth", preset: "huge", numClasses: 2 }, out }),
    /^InputError: Unknown --preset "huge" \(known: /,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task detect explains what it needs in one error line", async () => {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env",
        "--allow-ffi",
        "--allow-sys",
        "--allow-run",
        main,
        "detect",
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    return { code: out.code, err: new TextDecoder().decode(out.stderr) };
  };
  const image = join(EXAMPLE, "val", "000000000025.png");
  assert.deepEqual(await run(image), { code: 1, err: "error: Give exactly one of --model DIR and --weights FILE\n" });
  assert.deepEqual(await run(image, "--weights", "w.pth"), {
    code: 1,
    err: "error: --weights needs --preset NAME and --num-classes N\n",
  });
  const bad = await run(image, "--model", "m", "--score-threshold", "2");
  assert.equal(bad.code, 1);
  assert.match(
    bad.err,
    /option '--score-threshold <s>' argument '2' is invalid\. expected a number in \[0, 1\], got "2"/,
  );
});
