// A chunked window with JSON primitives; one that runs off the window throws {@link NEED_MORE}, and the caller
// rewinds to the element's start, refills and parses it again, so no parser state crosses chunks.
import { createHash, type Hash } from "node:crypto";
import { InputError, quote } from "../../core/errors.ts";

export const NEED_MORE: unknown = Object.freeze({ needMore: true });

const _latin1 = new TextDecoder("latin1");
const _utf8 = new TextDecoder();
const _POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

export class ByteCursor {
  b: Uint8Array;
  p = 0;
  e = 0;
  eof = false;
  base = 0;
  readonly #file: Deno.FsFile;
  readonly #hash: Hash;
  readonly name: string;
  onRead?: (bytes: number) => void;

  private constructor(file: Deno.FsFile, name: string, chunkBytes: number) {
    this.#file = file;
    this.name = name;
    this.b = new Uint8Array(chunkBytes);
    this.#hash = createHash("sha256");
  }

  static async open(
    path: string,
    name: string,
    chunkBytes = 8 << 20,
    onRead?: (bytes: number) => void,
  ): Promise<ByteCursor> {
    const c = new ByteCursor(await Deno.open(path), name, chunkBytes);
    c.onRead = onRead;
    await c.refill(0);
    return c;
  }

  /** Drop bytes before `keepFrom`, read more; doubles the window when one value fills it. */
  async refill(keepFrom: number): Promise<void> {
    if (this.eof) throw this.syntaxError("unexpected end of file");
    const kept = this.e - keepFrom;
    if (keepFrom === 0 && this.e === this.b.length) {
      const bigger = new Uint8Array(this.b.length * 2);
      bigger.set(this.b.subarray(0, this.e));
      this.b = bigger;
    } else {
      this.b.copyWithin(0, keepFrom, this.e);
    }
    this.base += keepFrom;
    this.p -= keepFrom;
    this.e = kept;
    while (this.e < this.b.length) {
      const n = await this.#file.read(this.b.subarray(this.e));
      if (n === null) {
        this.eof = true;
        break;
      }
      this.#hash.update(this.b.subarray(this.e, this.e + n));
      this.e += n;
    }
    this.onRead?.(this.base + this.e);
  }

  digest(): string {
    return this.#hash.digest("hex");
  }

  close(): void {
    this.#file.close();
  }

  syntaxError(detail: string, path = ""): InputError {
    const at = path ? `"${path}"` : `byte ${this.base + this.p}`;
    return new InputError(`Cannot parse ${at} in "${this.name}": ${detail}`);
  }

  /** Skip white space; throws NEED_MORE at the window's end unless at end of file. */
  ws(): void {
    const b = this.b;
    let p = this.p;
    while (p < this.e) {
      const x = b[p];
      if (x !== 0x20 && x !== 0x0a && x !== 0x0d && x !== 0x09) break;
      p++;
    }
    this.p = p;
    if (p >= this.e && !this.eof) throw NEED_MORE;
  }

  peek(): number {
    this.ws();
    return this.p < this.e ? this.b[this.p] : -1;
  }

  expect(byte: number, path = ""): void {
    if (this.peek() !== byte) {
      const got = this.p < this.e ? quote(String.fromCharCode(this.b[this.p])) : "end of file";
      throw this.syntaxError(`expected ${quote(String.fromCharCode(byte))}, got ${got}`, path);
    }
    this.p++;
  }

  valueEnd(): number {
    const b = this.b;
    const e = this.e;
    let p = this.p;
    let depth = 0;
    for (;;) {
      if (p >= e) {
        if (this.eof && depth === 0) return p;
        if (this.eof) throw this.syntaxError("unexpected end of file");
        throw NEED_MORE;
      }
      const x = b[p];
      if (x === 0x22) {
        p++;
        for (;;) {
          if (p >= e) {
            if (this.eof) throw this.syntaxError("unterminated string");
            throw NEED_MORE;
          }
          const y = b[p++];
          if (y === 0x5c) p++;
          else if (y === 0x22) break;
        }
        if (depth === 0) return p;
        continue;
      }
      if (x === 0x7b || x === 0x5b) depth++;
      else if (x === 0x7d || x === 0x5d) {
        if (depth === 0) return p;
        depth--;
        if (depth === 0) return p + 1;
      } else if (depth === 0 && (x === 0x2c || x === 0x20 || x === 0x0a || x === 0x0d || x === 0x09)) return p;
      p++;
    }
  }

  value(path: string): unknown {
    this.ws();
    const end = this.valueEnd();
    const text = _utf8.decode(this.b.subarray(this.p, end));
    try {
      const v = JSON.parse(text);
      this.p = end;
      return v;
    } catch (e) {
      throw this.syntaxError(`${(e as Error).message.split("\n")[0]} in ${quote(text, 40)}`, path);
    }
  }

  /**
   * Parse `n, n, ...]` (after a polygon's "[") into `out` from `at`, the hot loop of LVIS files; -1 when not a
   * plain list of numbers (the caller re-reads it the slow way).
   */
  numberList(out: Float32Array, at: number): number {
    const b = this.b;
    const e = this.e;
    let p = this.p;
    let n = 0;
    for (;;) {
      while (p < e && (b[p] === 0x20 || b[p] === 0x0a || b[p] === 0x0d || b[p] === 0x09)) p++;
      if (p >= e) break;
      if (n === 0 && b[p] === 0x5d) {
        this.p = p + 1;
        return 0;
      }
      const start = p;
      let neg = false;
      if (b[p] === 0x2d) {
        neg = true;
        p++;
      }
      let m = 0;
      let digits = 0;
      let frac = 0;
      let x = 0;
      while (p < e && (x = b[p] - 0x30) >= 0 && x <= 9) {
        m = m * 10 + x;
        digits++;
        p++;
      }
      if (p < e && b[p] === 0x2e) {
        p++;
        while (p < e && (x = b[p] - 0x30) >= 0 && x <= 9) {
          m = m * 10 + x;
          digits++;
          frac++;
          p++;
        }
      }
      if (p >= e) break;
      let v: number;
      const next = b[p];
      if (digits === 0) return -1;
      if (digits > 15 || frac > 22 || next === 0x65 || next === 0x45) {
        this.p = start;
        v = this.number();
        p = this.p;
      } else {
        v = frac === 0 ? m : m / _POW10[frac];
        if (neg) v = -v;
      }
      if (at + n >= out.length) return -2;
      out[at + n++] = v;
      while (p < e && (b[p] === 0x20 || b[p] === 0x0a || b[p] === 0x0d || b[p] === 0x09)) p++;
      if (p >= e) break;
      if (b[p] === 0x5d) {
        this.p = p + 1;
        return n;
      }
      if (b[p] !== 0x2c) return -1;
      p++;
    }
    if (this.eof) return -1;
    throw NEED_MORE;
  }

  /**
   * A number at the cursor, or NaN. Short decimals take an exact fast path (mantissa below 2^53 and a power of
   * ten up to 1e22 round once, as JSON.parse does); others go through parseFloat.
   */
  number(): number {
    const b = this.b;
    const e = this.e;
    const start = this.p;
    let p = start;
    let neg = false;
    if (p < e && b[p] === 0x2d) {
      neg = true;
      p++;
    }
    let m = 0;
    let digits = 0;
    let frac = 0;
    let x = 0;
    while (p < e && (x = b[p] - 0x30) >= 0 && x <= 9) {
      m = m * 10 + x;
      digits++;
      p++;
    }
    if (digits === 0) {
      if (p >= e && !this.eof) throw NEED_MORE;
      return NaN;
    }
    let slow = false;
    if (p < e && b[p] === 0x2e) {
      p++;
      while (p < e && (x = b[p] - 0x30) >= 0 && x <= 9) {
        m = m * 10 + x;
        digits++;
        frac++;
        p++;
      }
    }
    if (p < e && (b[p] === 0x65 || b[p] === 0x45)) {
      slow = true;
      p++;
      if (p < e && (b[p] === 0x2b || b[p] === 0x2d)) p++;
      while (p < e && b[p] >= 0x30 && b[p] <= 0x39) p++;
    }
    if (p >= e && !this.eof) throw NEED_MORE;
    this.p = p;
    if (slow || digits > 15 || frac > 22) return Number.parseFloat(_latin1.decode(b.subarray(start, p)));
    const v = frac === 0 ? m : m / _POW10[frac];
    return neg ? -v : v;
  }
}
