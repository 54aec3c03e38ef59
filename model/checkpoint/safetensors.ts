/**
 * safetensors: 8-byte LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw data. Every
 * size and offset is checked first: tensors must tile the data exactly (a hole could hide a second file).
 */
import { InputError, quote } from "../../core/errors.ts";
import { writeFileAtomic } from "../../core/atomic.ts";
import { type Dtype, DTYPE_BYTES, isDtype, toFloat32 } from "./dtypes.ts";

/** A named tensor as tailor keeps it on the host: float32 values in row-major order. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
  /** The element type it was stored with, where that was not float32. */
  dtype?: Dtype;
}

/** The format's own limit on the header, which keeps a lying length from allocating gigabytes. */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Encode float32 tensors (and string metadata) as safetensors bytes.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors(new Map([["w", { shape: [2], data: Float32Array.of(1, 2) }]]));
 * decodeSafetensors(bytes).tensors.get("w"); // { shape: [2], data: Float32Array [1, 2] }
 * ```
 */
export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) throw new Error(`Tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    const bytes = t.data.byteLength;
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header so the data starts 8-byte aligned.
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " ";
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Decode safetensors bytes: floats as float32, integers and booleans as float32 with `dtype` set.
 * A header that lies about a size or offset is an `InputError` naming `file` and the key.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  file = "<memory>",
): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const fail = (why: string) => new InputError(`Cannot read "${file}": ${why}`);
  if (bytes.length < 8) throw fail(`not a safetensors file (${bytes.length} bytes)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    throw fail(`the safetensors header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  }
  if (n > MAX_HEADER_BYTES) throw fail(`the safetensors header is ${n} bytes, more than the format allows`);
  const base = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, base)));
  } catch (e) {
    throw fail(`bad safetensors header (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw fail("the safetensors header is not a JSON object");
  }
  const dataBytes = bytes.length - base;
  const entries: Entry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, h] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = checkMetadata(h, fail);
      continue;
    }
    entries.push(checkEntry(name, h, dataBytes, fail));
  }
  // Sorted by offset, each tensor must start where the previous one ended.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of byOffset) {
    if (e.begin < at) {
      throw fail(`tensor ${quote(e.name)} overlaps another tensor's bytes (offsets ${e.begin}-${e.end})`);
    }
    if (e.begin > at) throw fail(`bytes ${at}-${e.begin} of the data belong to no tensor (before ${quote(e.name)})`);
    at = e.end;
  }
  if (at !== dataBytes) throw fail(`bytes ${at}-${dataBytes} of the data belong to no tensor`);
  const tensors = new Map<string, NamedArray>();
  for (const e of entries) {
    const data = toFloat32(bytes.subarray(base + e.begin, base + e.end), e.dtype);
    tensors.set(e.name, e.dtype === "F32" ? { shape: e.shape, data } : { shape: e.shape, data, dtype: e.dtype });
  }
  return { tensors, metadata };
}

function checkMetadata(h: unknown, fail: (why: string) => InputError): Record<string, string> {
  if (h === null || typeof h !== "object" || Array.isArray(h)) throw fail(`"__metadata__" is not an object`);
  for (const [k, v] of Object.entries(h)) {
    if (typeof v !== "string") throw fail(`"__metadata__.${k}" is ${quote(v)}, not a string`);
  }
  return h as Record<string, string>;
}

function checkEntry(name: string, h: unknown, dataBytes: number, fail: (why: string) => InputError): Entry {
  const at = `tensor ${quote(name)}`;
  if (h === null || typeof h !== "object") throw fail(`${at} is ${quote(h)}, not {dtype, shape, data_offsets}`);
  const { dtype, shape, data_offsets: offsets } = h as Record<string, unknown>;
  if (!isDtype(dtype)) throw fail(`${at} has unsupported dtype ${quote(dtype)}`);
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) throw fail(`${at} has shape ${quote(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw fail(`${at} has data_offsets ${quote(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataBytes) {
    throw fail(`${at} has data_offsets [${begin}, ${end}] outside the ${dataBytes} data bytes`);
  }
  const want = shape.reduce((a: number, d: number) => a * d, 1) * DTYPE_BYTES[dtype];
  if (end - begin !== want) {
    throw fail(`${at} has ${end - begin} bytes for ${dtype} shape [${shape}], which needs ${want}`);
  }
  return { name, dtype, shape, begin, end };
}

/** Write tensors to `path` atomically. */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, NamedArray>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function readSafetensors(path: string): Promise<ReturnType<typeof decodeSafetensors>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(`Cannot read "${path}": ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}
