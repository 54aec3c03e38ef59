/**
 * The safetensors format: an 8-byte little-endian header length, a JSON
 * header of {name: {dtype, shape, data_offsets}}, then the raw data. Used
 * for checkpoints and for loading user-provided weights.
 */
import { InputError, quote } from "../core/errors.ts";
import { writeFileAtomic } from "../core/atomic.ts";

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/** Encode float32 tensors (and string metadata) as safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
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

/** Decode safetensors bytes; F32, F16 and BF16 tensors are returned as float32. */
export function decodeSafetensors(
  bytes: Uint8Array,
  file = "<memory>",
): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new InputError(`Cannot read "${file}": not a safetensors file (${bytes.length} bytes)`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (n > bytes.length - 8) throw new InputError(`Cannot read "${file}": header length ${n} exceeds the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new InputError(`Cannot read "${file}": bad safetensors header (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, NamedArray>();
  let metadata: Record<string, string> = {};
  for (const [name, h] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = h as unknown as Record<string, string>;
      continue;
    }
    const [b, e] = h.data_offsets;
    const raw = bytes.subarray(base + b, base + e);
    const count = h.shape.reduce((a, d) => a * d, 1);
    let data: Float32Array;
    if (h.dtype === "F32") data = new Float32Array(raw.slice().buffer);
    else if (h.dtype === "F16" || h.dtype === "BF16") {
      const u16 = new Uint16Array(raw.slice().buffer);
      data = new Float32Array(u16.length);
      const dv = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < u16.length; i++) {
        if (h.dtype === "BF16") {
          dv.setUint32(0, u16[i] << 16);
          data[i] = dv.getFloat32(0);
        } else data[i] = half(u16[i]);
      }
    } else throw new InputError(`Cannot read "${file}": tensor ${quote(name)} has unsupported dtype ${quote(h.dtype)}`);
    if (data.length !== count) {
      throw new InputError(
        `Cannot read "${file}": tensor ${quote(name)} has ${data.length} values for shape [${h.shape}]`,
      );
    }
    tensors.set(name, { shape: h.shape, data });
  }
  return { tensors, metadata };
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
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
