/**
 * Checkpoint dtypes (safetensors names) converted to float32; integer tensors (BatchNorm's
 * `num_batches_tracked`) are marked so the key mapping can drop them on purpose.
 */

/** A tensor's element type as safetensors spells it. */
export type Dtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isDtype(name: unknown): name is Dtype {
  return typeof name === "string" && Object.hasOwn(DTYPE_BYTES, name);
}

export function isFloat(dtype: Dtype): boolean {
  return dtype === "F64" || dtype === "F32" || dtype === "F16" || dtype === "BF16";
}

/** The IEEE half-precision value of the bits `h`. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Reader of element `i` of little-endian `bytes`; unaligned input is copied once (typed views need alignment). */
export function elementReader(bytes: Uint8Array, dtype: Dtype): (i: number) => number {
  const size = DTYPE_BYTES[dtype];
  const b = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const n = Math.floor(b.byteLength / size);
  switch (dtype) {
    case "F32": {
      const v = new Float32Array(b.buffer, b.byteOffset, n);
      return (i) => v[i];
    }
    case "F64": {
      const v = new Float64Array(b.buffer, b.byteOffset, n);
      return (i) => v[i];
    }
    case "F16": {
      const v = new Uint16Array(b.buffer, b.byteOffset, n);
      return (i) => halfToFloat(v[i]);
    }
    case "BF16": {
      // bfloat16 is the upper half of a float32.
      const v = new Uint16Array(b.buffer, b.byteOffset, n);
      const f = new Float32Array(1), u = new Uint32Array(f.buffer);
      return (i) => {
        u[0] = v[i] << 16;
        return f[0];
      };
    }
    case "I64": {
      const v = new BigInt64Array(b.buffer, b.byteOffset, n);
      return (i) => Number(v[i]);
    }
    case "I32": {
      const v = new Int32Array(b.buffer, b.byteOffset, n);
      return (i) => v[i];
    }
    case "I16": {
      const v = new Int16Array(b.buffer, b.byteOffset, n);
      return (i) => v[i];
    }
    case "I8": {
      const v = new Int8Array(b.buffer, b.byteOffset, n);
      return (i) => v[i];
    }
    case "U8":
      return (i) => b[i];
    case "BOOL":
      return (i) => (b[i] ? 1 : 0);
  }
}

/** `count` elements of `bytes` from element `start`, as float32. */
export function toFloat32(bytes: Uint8Array, dtype: Dtype, start = 0, count?: number): Float32Array {
  const size = DTYPE_BYTES[dtype];
  const n = count ?? Math.floor(bytes.byteLength / size) - start;
  if (dtype === "F32") return new Float32Array(bytes.slice(start * 4, (start + n) * 4).buffer);
  const read = elementReader(bytes.subarray(start * size, (start + n) * size), dtype);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = read(i);
  return out;
}
