/**
 * Unpickling a state dict without running it: every name the pickle imports goes through an allow
 * list (dicts, tensor rebuilders, storage types) building inert records; others raise `PickleRefusal`.
 */
import { BufferReader, Parser } from "pickleparser";
import type { Dtype } from "./dtypes.ts";

/** A storage the pickle refers to by key; its bytes live beside the pickle. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: Dtype,
    /** Elements of `dtype` that the storage holds. */
    readonly numel: number,
    /** Legacy files only: a view of `numel` elements from `offset` of the storage `root` of `rootNumel`. */
    readonly view?: { root: string; offset: number; rootNumel: number },
  ) {}
}

/** A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

export class PickleRefusal extends Error {
  override name = "PickleRefusal";
}

/** A storage class named in a persistent id (`torch.FloatStorage`, ...). */
class StorageType {
  constructor(readonly dtype: Dtype) {}
}

const STORAGE_TYPES: Record<string, Dtype> = {
  DoubleStorage: "F64",
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** The non-negative integer `v`, or a refusal naming `what`. */
function count(v: unknown, what: string): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new PickleRefusal(`${what} is ${String(v)}`);
  return n as number;
}

function counts(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new PickleRefusal(`${what} is not a tuple`);
  return v.map((x, i) => count(x, `${what}[${i}]`));
}

function rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef {
  if (!(storage instanceof StorageRef)) {
    throw new PickleRefusal("a tensor is rebuilt from something other than a storage");
  }
  const sz = counts(size, "a tensor's size"), st = counts(stride, "a tensor's stride");
  if (sz.length !== st.length) throw new PickleRefusal(`a tensor has size [${sz}] but stride [${st}]`);
  return new TensorRef(storage, count(offset, "a tensor's storage offset"), sz, st);
}

/** A fresh allow list per parse, so nothing a pickle does to these functions outlives it. */
function allowedNames(): Map<string, unknown> {
  const names = new Map<string, unknown>([
    // OrderedDict() then SETITEMS; an item list as argument is accepted too.
    ["collections.OrderedDict", (items?: unknown) => {
      const m = new Map();
      if (Array.isArray(items)) {
        for (const kv of items) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
      }
      return m;
    }],
    ["torch._utils._rebuild_tensor", rebuildTensor],
    // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata]): the rest is autograd state.
    ["torch._utils._rebuild_tensor_v2", rebuildTensor],
    ["torch._utils._rebuild_parameter", (data: unknown) => data],
    ["torch._utils._rebuild_parameter_with_state", (data: unknown) => data],
  ]);
  for (const [name, dtype] of Object.entries(STORAGE_TYPES)) names.set(`torch.${name}`, new StorageType(dtype));
  return names;
}

function parser(persistent: (pid: unknown[]) => StorageRef): Parser {
  const names = allowedNames();
  return new Parser({
    nameResolver: {
      resolve(module: string, name: string) {
        const got = names.get(`${module}.${name}`);
        if (got === undefined) throw new PickleRefusal(`it refers to the Python global "${module}.${name}"`);
        // pickleparser types names as callables; storage types are plain markers that no opcode can call.
        return got as () => unknown;
      },
    },
    persistentResolver: {
      resolve(pid: unknown) {
        if (!Array.isArray(pid)) throw new PickleRefusal(`it has a persistent id ${String(pid)} that is not a storage`);
        return persistent(pid);
      },
    },
    extensionResolver: {
      resolve(code: number) {
        throw new PickleRefusal(`it uses the pickle extension code ${code}`);
      },
    },
    unpicklingTypeOfDictionary: "Map",
    unpicklingTypeOfSet: "array",
  });
}

/** Persistent id `('storage', type, key, location, numel)`; legacy files add `(view_key, offset, size)` or None. */
export function storageFromPid(pid: unknown[]): StorageRef {
  const [tag, type, key, , numel, view] = pid;
  if (tag !== "storage") throw new PickleRefusal(`it has a persistent id of kind ${JSON.stringify(String(tag))}`);
  if (!(type instanceof StorageType)) throw new PickleRefusal("a storage has no known storage type");
  if (typeof key !== "string") throw new PickleRefusal("a storage key is not a string");
  const n = count(numel, `the size of storage ${key}`);
  if (view === undefined || view === null) return new StorageRef(key, type.dtype, n);
  if (!Array.isArray(view) || view.length !== 3 || typeof view[0] !== "string") {
    throw new PickleRefusal(`storage ${key} has view metadata that is not (key, offset, size)`);
  }
  const viewKey = view[0], offset = count(view[1], "a storage view's offset"), size = count(view[2], "a view's size");
  return new StorageRef(viewKey, type.dtype, size, { root: key, offset, rootNumel: n });
}

/** Run one pickle from `reader` (left past STOP); `PickleRefusal` outside the allow list, parser errors when broken. */
export function unpickle(reader: BufferReader, persistent: (pid: unknown[]) => StorageRef = storageFromPid): unknown {
  return parser(persistent).read(reader);
}

export { BufferReader };
