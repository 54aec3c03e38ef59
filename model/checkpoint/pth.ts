/**
 * PyTorch `.pth` without Python: the zip of `torch.save` >= 1.6, or the legacy stream (five pickles, then
 * int64 count + bytes per storage). Pickles run on `pickle.ts`'s allow list; tensors come out float32.
 */
import { unzipSync } from "fflate";
import { InputError, quote } from "../../core/errors.ts";
import { DTYPE_BYTES, elementReader, toFloat32 } from "./dtypes.ts";
import { BufferReader, PickleRefusal, storageFromPid, StorageRef, TensorRef, unpickle } from "./pickle.ts";
import type { NamedArray } from "./safetensors.ts";

export interface PthStateDict {
  tensors: Map<string, NamedArray>;
  /** "zip" (torch >= 1.6) or "legacy". */
  layout: "zip" | "legacy";
  /** The key of the checkpoint dictionary that held the state dict ("state_dict", "model"), if any. */
  container?: string;
}

/** The keys under which training frameworks nest the state dict in a checkpoint (mmdetection, detectron2, ...). */
const CONTAINERS = ["state_dict", "model", "model_state_dict", "model_state"];

/** Compressed zip entries (torch writes none) may inflate this much at most. */
const MAX_INFLATION = 64;

// `torch.save`'s legacy magic number 0x1950a86a20f9469cfc6c as pickle protocol 2 writes it.
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

export function looksLikePth(bytes: Uint8Array): boolean {
  return isZip(bytes) || LEGACY_MAGIC.every((b, i) => bytes[i] === b);
}

function isZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Decode `.pth` bytes into the state dict. Every problem is an `InputError` naming `file`: truncation,
 * a pickle with anything but tensors and containers, big-endian data, a tensor past its storage.
 */
export function decodePth(bytes: Uint8Array, file: string): PthStateDict {
  const fail = (why: string) => new InputError(`Cannot read "${file}": ${why}`);
  if (isZip(bytes)) return fromZip(bytes, fail);
  if (LEGACY_MAGIC.every((b, i) => bytes[i] === b)) return fromLegacy(bytes, fail);
  if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar") {
    throw fail("a tar archive of torch < 0.4; load it with torch and save it again with torch >= 1.6");
  }
  if (bytes[0] === 0x80) {
    throw fail("a plain pickle, not torch.save output (detectron2's model zoo .pkl is one); save it with torch.save");
  }
  throw fail("not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy torch.save stream)");
}

type Fail = (why: string) => InputError;

/** Run a pickle, turning the parser's errors and refusals into one-line input errors. */
function runPickle(reader: BufferReader, what: string, fail: Fail, persistent?: (pid: unknown[]) => StorageRef) {
  try {
    return unpickle(reader, persistent);
  } catch (e) {
    if (e instanceof PickleRefusal) {
      throw fail(
        `${what} is not a plain state dict: ${e.message}; tailor reads only tensors, numbers, strings and ` +
          "containers and runs no pickled code (save model.state_dict() instead of the model)",
      );
    }
    if (e instanceof InputError) throw e;
    throw fail(`${what} is corrupt or truncated (${(e as Error).message})`);
  }
}

function fromZip(bytes: Uint8Array, fail: Fail): PthStateDict {
  let files: Record<string, Uint8Array>;
  let bomb: string | undefined;
  try {
    // torch stores entries uncompressed; a compressed one may not claim more than any real data compresses to.
    files = unzipSync(bytes, {
      filter: (f) => {
        if (f.compression !== 0 && f.originalSize > MAX_INFLATION * f.size + 1024) bomb ??= f.name;
        return bomb === undefined;
      },
    });
  } catch (e) {
    throw fail(`the zip archive is corrupt or truncated (${(e as Error).message})`);
  }
  if (bomb) throw fail(`zip entry ${quote(bomb)} claims to inflate more than ${MAX_INFLATION}-fold; not a checkpoint`);
  const names = Object.keys(files);
  if (names.some((n) => /^[^/]+\/constants\.pkl$/.test(n))) {
    throw fail("a TorchScript archive, not a state dict; save model.state_dict() with torch.save instead");
  }
  const pkl = names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    throw fail(`a zip archive with ${pkl.length ? "several" : "no"} "<dir>/data.pkl": not a torch.save checkpoint`);
  }
  const dir = pkl[0].slice(0, -"data.pkl".length);
  const order = files[`${dir}byteorder`];
  if (order && new TextDecoder().decode(order).trim() !== "little") {
    throw fail(`its tensors are ${quote(new TextDecoder().decode(order).trim())}-endian; tailor reads little-endian`);
  }
  const root = runPickle(new BufferReader(files[pkl[0]]), `"${pkl[0]}"`, fail);
  return collect(root, "zip", fail, (ref) => {
    const data = files[`${dir}data/${ref.key}`];
    if (!data) throw fail(`storage ${quote(ref.key)} is missing from the archive`);
    return data;
  });
}

function fromLegacy(bytes: Uint8Array, fail: Fail): PthStateDict {
  const reader = new BufferReader(bytes);
  reader.skip(LEGACY_MAGIC.length);
  const protocol = runPickle(reader, "the protocol version", fail);
  if (protocol !== 1001) throw fail(`legacy torch.save protocol ${quote(protocol)} (known: 1001)`);
  const info = runPickle(reader, "the system information", fail);
  if (!(info instanceof Map) || info.get("little_endian") !== true) {
    throw fail("its tensors were saved big-endian (sys_info.little_endian is not True); tailor reads little-endian");
  }
  const roots = new Map<string, StorageRef>();
  const root = runPickle(reader, "the pickle", fail, (pid) => {
    const ref = storageFromPid(pid);
    const key = ref.view?.root ?? ref.key;
    const numel = ref.view?.rootNumel ?? ref.numel;
    const seen = roots.get(key);
    if (seen && (seen.dtype !== ref.dtype || seen.numel !== numel)) {
      throw new PickleRefusal(`storage ${key} is declared twice with different types or sizes`);
    }
    roots.set(key, new StorageRef(key, ref.dtype, numel));
    return ref;
  });
  const keys = runPickle(reader, "the storage list", fail);
  if (!Array.isArray(keys)) throw fail("the legacy storage list is not a list");
  // Each storage: its element count as int64, then its bytes.
  const data = new Map<string, Uint8Array>();
  let at = reader.position;
  for (const key of keys) {
    const ref = roots.get(String(key));
    if (!ref) throw fail(`storage ${quote(key)} is listed but no tensor uses it`);
    if (at + 8 > bytes.length) throw fail(`truncated: storage ${quote(key)} is missing`);
    const numel = new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigInt64(0, true);
    if (numel !== BigInt(ref.numel)) {
      throw fail(`storage ${quote(key)} has ${numel} elements, the pickle says ${ref.numel}`);
    }
    const end = at + 8 + ref.numel * DTYPE_BYTES[ref.dtype];
    if (end > bytes.length) throw fail(`truncated: storage ${quote(key)} ends past the end of the file`);
    data.set(ref.key, bytes.subarray(at + 8, end));
    at = end;
  }
  return collect(root, "legacy", fail, (ref) => {
    const whole = data.get(ref.view?.root ?? ref.key);
    if (!whole) throw fail(`storage ${quote(ref.view?.root ?? ref.key)} is used but not in the file`);
    if (!ref.view) return whole;
    const size = DTYPE_BYTES[ref.dtype], from = ref.view.offset * size;
    if (from + ref.numel * size > whole.length) throw fail(`a view of storage ${quote(ref.view.root)} reaches past it`);
    return whole.subarray(from, from + ref.numel * size);
  });
}

function collect(
  root: unknown,
  layout: "zip" | "legacy",
  fail: Fail,
  bytesOf: (ref: StorageRef) => Uint8Array,
): PthStateDict {
  if (!(root instanceof Map)) throw fail(`it holds ${describe(root)}, not a state dict`);
  let dict: Map<unknown, unknown> = root;
  let container: string | undefined;
  if (![...root.values()].some((v) => v instanceof TensorRef)) {
    container = CONTAINERS.find((k) => root.get(k) instanceof Map);
    if (!container) {
      throw fail(
        `it holds no tensors at the top level nor under ${CONTAINERS.map((k) => `"${k}"`).join(", ")} ` +
          `(keys: ${[...root.keys()].slice(0, 8).map((k) => quote(k)).join(", ")})`,
      );
    }
    dict = root.get(container) as Map<unknown, unknown>;
  }
  const tensors = new Map<string, NamedArray>();
  for (const [key, value] of dict) {
    if (!(value instanceof TensorRef)) continue;
    if (typeof key !== "string") throw fail(`a tensor is stored under the key ${quote(key)}, not a name`);
    tensors.set(key, materialise(value, key, bytesOf(value.storage), fail));
  }
  if (tensors.size === 0) throw fail(`its state dict${container ? ` under "${container}"` : ""} holds no tensors`);
  return { tensors: stripModulePrefix(tensors), layout, container };
}

/** `nn.DataParallel` saves every name under "module."; the model itself is what is meant. */
function stripModulePrefix(tensors: Map<string, NamedArray>): Map<string, NamedArray> {
  if (![...tensors.keys()].every((k) => k.startsWith("module."))) return tensors;
  return new Map([...tensors].map(([k, v]) => [k.slice("module.".length), v]));
}

/** The strided view `t` of `storage` as a row-major float32 array. */
export function materialise(t: TensorRef, name: string, storage: Uint8Array, fail: Fail): NamedArray {
  const { dtype, numel } = t.storage;
  if (storage.length < numel * DTYPE_BYTES[dtype]) {
    throw fail(`tensor ${quote(name)}: its storage has ${storage.length} bytes, ${numel} ${dtype} need more`);
  }
  const n = t.size.reduce((a, d) => a * d, 1);
  let last = t.offset;
  for (let d = 0; d < t.size.length; d++) last += (t.size[d] - 1) * t.stride[d];
  if (n > 0 && last >= numel) {
    throw fail(
      `tensor ${quote(name)} of size [${t.size}], stride [${t.stride}] at offset ${t.offset} ` +
        `reaches element ${last} of a storage of ${numel}`,
    );
  }
  let contiguous = true;
  for (let d = t.size.length - 1, step = 1; d >= 0; step *= t.size[d], d--) {
    contiguous &&= t.size[d] === 1 || t.stride[d] === step;
  }
  if (contiguous) {
    const data = toFloat32(storage, dtype, t.offset, n);
    return dtype === "F32" ? { shape: [...t.size], data } : { shape: [...t.size], data, dtype };
  }
  const read = elementReader(storage, dtype);
  const data = new Float32Array(n);
  // Walk the index space in row-major order, carrying the storage position along.
  const rank = t.size.length, idx = new Array<number>(rank).fill(0);
  let pos = t.offset;
  for (let i = 0; i < n; i++) {
    data[i] = read(pos);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < t.size[d]) {
        pos += t.stride[d];
        break;
      }
      pos -= (t.size[d] - 1) * t.stride[d];
      idx[d] = 0;
    }
  }
  return dtype === "F32" ? { shape: [...t.size], data } : { shape: [...t.size], data, dtype };
}

function describe(v: unknown): string {
  if (v instanceof TensorRef) return "a single tensor";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return v === null ? "None" : `a ${typeof v}`;
}
