/**
 * The `.pth` reader against files torch 1.13 wrote: every dtype, stride,
 * offset and shared storage in both torch.save layouts; pickles that are
 * not state dicts; truncated, corrupt and big-endian files.
 */
import assert from "node:assert/strict";
import { unzipSync, zipSync } from "fflate";
import { rng, SEED } from "../../_util.ts";
import { InputError } from "../../../core/errors.ts";
import { decodePth, materialise } from "../../../model/checkpoint/pth.ts";
import { BufferReader, StorageRef, TensorRef, unpickle } from "../../../model/checkpoint/pickle.ts";
import { assertInputError, readFixture } from "./_fixtures.ts";

const expected: Record<string, { shape: number[]; dtype: string; values: number[] }> = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/checkpoint/zoo_expected.json", import.meta.url)),
);
const DTYPES: Record<string, string | undefined> = {
  float32: undefined,
  float16: "F16",
  bfloat16: "BF16",
  float64: "F64",
  int64: "I64",
  int32: "I32",
  uint8: "U8",
  bool: "BOOL",
};

for (const file of ["zoo.pth", "zoo_legacy.pth"]) {
  Deno.test(`decodePth() reads every dtype, stride, offset and shared storage of ${file} as torch wrote them`, () => {
    const { tensors, layout, container } = decodePth(readFixture(file), file);
    assert.equal(layout, file.includes("legacy") ? "legacy" : "zip");
    assert.equal(container, undefined);
    assert.deepEqual([...tensors.keys()], Object.keys(expected));
    for (const [name, want] of Object.entries(expected)) {
      const got = tensors.get(name)!;
      assert.deepEqual(got.shape, want.shape, name);
      assert.equal(got.dtype, DTYPES[want.dtype], name);
      // torch converted to float32 itself: the values must be bit-equal.
      assert.deepEqual(Array.from(got.data), want.values, name);
    }
    assert.deepEqual(tensors.get("shared_b")!.data, tensors.get("shared_a")!.data.slice(4, 8));
  });
}

Deno.test("decodePth() unwraps a checkpoint's state_dict or model and drops DataParallel's module. prefix", () => {
  const mm = decodePth(readFixture("tiny_mmdet.pth"), "tiny_mmdet.pth");
  assert.equal(mm.container, "state_dict");
  assert.ok(mm.tensors.has("backbone.conv1.weight") && !mm.tensors.has("momentum_buffer"));
  const d2 = decodePth(readFixture("tiny_tv_wrapped.pth"), "tiny_tv_wrapped.pth");
  assert.equal(d2.container, "model");
  assert.deepEqual([...d2.tensors.keys()], [
    "backbone.body.conv1.weight",
    "backbone.body.bn1.weight",
    "backbone.body.bn1.bias",
  ]);
});

const refusals: [string, string][] = [
  ["evil_system.pth", '"posix.system"'],
  ["evil_eval.pth", '"__builtin__.eval"'],
  ["evil_custom.pth", '"payload_module.Payload"'],
  ["module_object.pth", '"torch.nn.modules.linear.Linear"'],
];
for (const [file, global] of refusals) {
  Deno.test(`decodePth() refuses ${file}, naming the file and the global ${global}`, () => {
    assertInputError(() => decodePth(readFixture(file), file), `"${file}"`, global, "not a plain state dict");
  });
}

Deno.test("decodePth() refuses a TorchScript archive and files that are no checkpoint", () => {
  assertInputError(() => decodePth(readFixture("torchscript.pt"), "m.pt"), '"m.pt"', "TorchScript");
  assertInputError(() => decodePth(new TextEncoder().encode('{"a": 1}'), "a.json"), '"a.json"', "not a PyTorch");
  assertInputError(() => decodePth(reducePickle("collections", "OrderedDict"), "m.pkl"), '"m.pkl"', "a plain pickle");
});

/** A pickle (protocol 2) from opcodes: GLOBAL module/name, EMPTY_TUPLE, REDUCE, STOP. */
function reducePickle(module: string, name: string): Uint8Array {
  return new Uint8Array([0x80, 2, ...new TextEncoder().encode(`c${module}\n${name}\n`), 0x29, 0x52, 0x2e]);
}

Deno.test("unpickle() refuses every name outside the allow list before calling anything", () => {
  for (const [module, name] of [["os", "system"], ["subprocess", "Popen"], ["torch", "load"], ["torch._utils", "x"]]) {
    assert.throws(() => unpickle(new BufferReader(reducePickle(module, name))), new RegExp(`"${module}\\.${name}"`));
  }
  // INST (protocol 0) names a class and calls it in one opcode.
  const inst = new Uint8Array([0x28, ...new TextEncoder().encode("iposix\nsystem\n"), 0x2e]);
  assert.throws(() => unpickle(new BufferReader(inst)), /"posix\.system"/);
  // EXT1 fetches a global from the copyreg registry.
  assert.throws(() => unpickle(new BufferReader(new Uint8Array([0x80, 2, 0x82, 1, 0x2e]))), /extension code 1/);
  // The allowed names build plain records: an OrderedDict is a Map.
  assert.ok(unpickle(new BufferReader(reducePickle("collections", "OrderedDict"))) instanceof Map);
});

Deno.test(`decodePth() refuses truncated files with one line naming the file (seed ${SEED})`, () => {
  const r = rng(11);
  for (const file of ["zoo.pth", "zoo_legacy.pth", "tiny_mmdet.pth"]) {
    const bytes = readFixture(file);
    for (let i = 0; i < 12; i++) {
      const cut = 1 + Math.floor(r.uniform(0, bytes.length - 2));
      assertInputError(() => decodePth(bytes.subarray(0, cut), file), `Cannot read "${file}"`);
    }
  }
});

Deno.test("decodePth() refuses a corrupt pickle and a storage that is missing or short", () => {
  const legacy = readFixture("zoo_legacy.pth").slice();
  legacy.fill(0xff, 20, 28); // inside the protocol-version pickle
  assertInputError(() => decodePth(legacy, "zoo_legacy.pth"), '"zoo_legacy.pth"', "corrupt or truncated");
  const files = unzipSync(readFixture("zoo.pth"));
  const storage = Object.keys(files).find((k) => k.startsWith("zoo/data/"))!;
  const short = { ...files, [storage]: files[storage].subarray(0, 2) };
  assertInputError(() => decodePth(zipSync(short, { level: 0 }), "short.pth"), '"short.pth"', "storage");
  const { [storage]: _gone, ...missing } = files;
  assertInputError(() => decodePth(zipSync(missing, { level: 0 }), "gone.pth"), '"gone.pth"', "is missing");
});

Deno.test("decodePth() reads a re-compressed archive and refuses a zip bomb before inflating it", () => {
  const files = unzipSync(readFixture("zoo.pth"));
  assert.equal(decodePth(zipSync(files, { level: 6 }), "deflated.pth").tensors.size, Object.keys(expected).length);
  const bomb = zipSync({ ...files, "zoo/data/99": new Uint8Array(2_000_000) }, { level: 9 });
  assertInputError(() => decodePth(bomb, "bomb.pth"), '"bomb.pth"', '"zoo/data/99"', "inflate more than 64-fold");
});

Deno.test("decodePth() refuses big-endian files in both layouts", () => {
  const files = unzipSync(readFixture("zoo.pth"));
  const big = zipSync({ ...files, "zoo/byteorder": new TextEncoder().encode("big") }, { level: 0 });
  assertInputError(() => decodePth(big, "big.pth"), '"big.pth"', '"big"-endian');
  const little = zipSync({ ...files, "zoo/byteorder": new TextEncoder().encode("little") }, { level: 0 });
  assert.equal(decodePth(little, "little.pth").tensors.size, Object.keys(expected).length);
  // The legacy system information says little_endian: True (NEWTRUE, 0x88); make it False.
  const legacy = readFixture("zoo_legacy.pth").slice();
  const at = new TextDecoder("latin1").decode(legacy).indexOf("little_endian");
  const flag = legacy.indexOf(0x88, at);
  legacy[flag] = 0x89;
  assertInputError(() => decodePth(legacy, "be.pth"), '"be.pth"', "big-endian");
});

Deno.test(`materialise() gathers any strided view as a float64 index walk does (seed ${SEED})`, () => {
  const r = rng(12);
  const fail = (why: string) => new InputError(why);
  for (let trial = 0; trial < 40; trial++) {
    const rank = Math.floor(r.uniform(0, 4));
    const size = Array.from({ length: rank }, () => Math.floor(r.uniform(1, 5)));
    const stride = Array.from({ length: rank }, () => Math.floor(r.uniform(0, 7)));
    const offset = Math.floor(r.uniform(0, 5));
    let last = offset;
    for (let d = 0; d < rank; d++) last += (size[d] - 1) * stride[d];
    const numel = last + 1 + Math.floor(r.uniform(0, 3));
    const values = Float32Array.from({ length: numel }, () => r.uniform(-1, 1) || 0.5);
    const ref = new StorageRef("0", "F32", numel);
    const got = materialise(new TensorRef(ref, offset, size, stride), "t", new Uint8Array(values.buffer), fail);
    const want: number[] = [];
    const walk = (d: number, pos: number) => {
      if (d === rank) want.push(values[pos]);
      else for (let i = 0; i < size[d]; i++) walk(d + 1, pos + i * stride[d]);
    };
    walk(0, offset);
    assert.deepEqual(Array.from(got.data), want, `size [${size}] stride [${stride}] offset ${offset}`);
    // One element further and the view leaves its storage.
    const past = new TensorRef(new StorageRef("0", "F32", last), offset, size, stride);
    assert.throws(() => materialise(past, "t", new Uint8Array(values.buffer), fail), /reaches element|bytes/);
  }
});
