/**
 * safetensors: round trips, files another writer made, and headers that lie
 * about sizes or offsets, each refused naming the file and the key.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { randomArray, rng, SEED } from "../../_util.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedArray,
  readSafetensors,
  writeSafetensors,
} from "../../../model/checkpoint/safetensors.ts";
import { decodeWeights } from "../../../model/checkpoint/read.ts";
import { assertInputError, fixture, readFixture } from "./_fixtures.ts";

Deno.test(`encodeSafetensors() and decodeSafetensors() round-trip random tensors and metadata (seed ${SEED})`, () => {
  const r = rng(21);
  const tensors = new Map<string, NamedArray>();
  for (let i = 0; i < 6; i++) {
    const shape = Array.from({ length: i % 4 }, () => 1 + Math.floor(r.uniform(0, 5)));
    const n = shape.reduce((a, d) => a * d, 1);
    tensors.set(`layer${i}.weight`, { shape, data: Float32Array.from(randomArray(r, n)) });
  }
  tensors.set("empty", { shape: [0, 3], data: new Float32Array(0) });
  const bytes = encodeSafetensors(tensors, { format: "pt" });
  assert.equal((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8, 0, "data not 8-byte aligned");
  const back = decodeSafetensors(bytes, "x.safetensors");
  assert.deepEqual(back.metadata, { format: "pt" });
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [k, t] of tensors) assert.deepEqual(back.tensors.get(k), t);
});

Deno.test("decodeSafetensors() reads a file written by another writer, integer tensors marked", () => {
  const { tensors } = decodeSafetensors(readFixture("tiny_resnet_timm.safetensors"), "timm.safetensors");
  const counter = tensors.get("bn1.num_batches_tracked")!;
  assert.deepEqual([counter.shape, counter.dtype, Array.from(counter.data)], [[], "I64", [0]]);
  assert.equal(tensors.get("conv1.weight")!.dtype, undefined);
});

Deno.test("decodeWeights() tells safetensors from a pickle when the header length starts with the pickle byte", () => {
  // A header of 128 bytes: the length field's first byte is 0x80, the pickle protocol opcode.
  const header = { __metadata__: { pad: "" }, w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } };
  while (JSON.stringify(header).length < 128) header.__metadata__.pad += "x";
  const bytes = withHeader(header, 4);
  assert.equal(bytes[0], 0x80);
  assert.deepEqual([...decodeWeights(bytes, "w.safetensors").tensors.keys()], ["w"]);
});

/** A file with `header` as its JSON header and `dataBytes` of data after it. */
function withHeader(header: unknown, dataBytes: number, lengthField?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes).fill(7, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const t = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

Deno.test("decodeSafetensors() refuses headers that lie about sizes and offsets, naming the file and the key", () => {
  const f = "lie.safetensors";
  const read = (bytes: Uint8Array) => () => decodeSafetensors(bytes, f);
  assertInputError(read(withHeader({ a: t("F32", [2], [0, 8]) }, 8, 1000n)), `"${f}"`, "header length 1000 runs past");
  assertInputError(read(new Uint8Array(5)), `"${f}"`, "5 bytes");
  assertInputError(read(withHeader({ a: t("F32", [2], [0, 8]) }, 4)), '"a"', "outside the 4 data bytes");
  assertInputError(read(withHeader({ a: t("F32", [3], [0, 8]) }, 8)), '"a"', "8 bytes for F32 shape [3]");
  assertInputError(read(withHeader({ a: t("F32", [2], [0, 8]), b: t("F32", [1], [4, 8]) }, 8)), '"b"', "overlaps");
  assertInputError(read(withHeader({ a: t("F32", [1], [4, 8]) }, 8)), "bytes 0-4", '"a"');
  assertInputError(read(withHeader({ a: t("F32", [1], [0, 4]) }, 8)), `"${f}"`, "bytes 4-8");
  assertInputError(read(withHeader({ a: t("F8_E4M3", [1], [0, 1]) }, 1)), '"a"', 'dtype "F8_E4M3"');
  assertInputError(read(withHeader({ a: t("F32", [-1], [0, 4]) }, 4)), '"a"', "shape [-1]");
  assertInputError(read(withHeader({ a: t("F32", [1], [4, 0]) }, 4)), '"a"', "data_offsets [4, 0]");
  assertInputError(read(withHeader({ a: t("F32", [1], [0]) }, 4)), '"a"', "data_offsets [0]");
  assertInputError(read(withHeader([1, 2], 0)), `"${f}"`, "not a JSON object");
  assertInputError(read(withHeader({ __metadata__: { step: 3 } }, 0)), '"__metadata__.step"', "not a string");
  const garbled = withHeader({ a: t("F32", [1], [0, 4]) }, 4);
  garbled[9] = 0x7d;
  assertInputError(read(garbled), `"${f}"`, "bad safetensors header");
});

Deno.test("writeSafetensors() replaces a file only with a complete one", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "w.safetensors");
  const good = new Map([["w", { shape: [2], data: Float32Array.of(1.5, -2) }]]);
  await writeSafetensors(path, good);
  const bad = new Map([["w", { shape: [3], data: Float32Array.of(1) }]]);
  await assert.rejects(() => writeSafetensors(path, bad), /1 values for shape \[3\]/);
  assert.deepEqual((await readSafetensors(path)).tensors.get("w"), good.get("w"));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["w.safetensors"]);
  await assert.rejects(() => readSafetensors(fixture("missing.safetensors")), /Cannot read ".*missing\.safetensors"/);
});
