// A dataset's columns in one binary file (magic, JSON header, 8-byte aligned arrays): loading is a few large reads.
import { dirname } from "node:path";
import { InputError } from "../core/errors.ts";
import type { Dataset } from "./dataset.ts";

const MAGIC = "TAILRDS1";
const VERSION = 3;
/** The columns of mask geometry, the largest ones, left unread for boxes-only use. */
const _MASK_COLUMNS = new Set(["annotations.coords", "annotations.rleCounts"]);

type _Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array;
const _TYPES: Record<string, new (n: number) => _Typed> = {
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Uint8Array,
};
const _GROUPS = ["images", "annotations", "categories"] as const;

interface _Column {
  name: string;
  type: string;
  length: number;
  offset: number;
}

interface _Header {
  version: number;
  format: Dataset["format"];
  assumed: Dataset["assumed"];
  source: string;
  imageRoot: string;
  contentHash: string;
  counts: Record<string, number>;
  fileNames: string[];
  categoryNames: string[];
  columns: _Column[];
  totalBytes: number;
}

function _columnsOf(ds: Dataset): { name: string; array: _Typed }[] {
  const out: { name: string; array: _Typed }[] = [];
  for (const g of _GROUPS) {
    for (const [k, v] of Object.entries(ds[g])) {
      if (ArrayBuffer.isView(v)) out.push({ name: `${g}.${k}`, array: v as _Typed });
    }
  }
  return out;
}

/**
 * Write `ds` to `path` atomically.
 *
 * @example
 * ```ts
 * import { readDatasetCache, writeDatasetCache } from "./dataset_cache.ts";
 * import { ingestDataset } from "./ingest_dataset.ts";
 * const { dataset } = await ingestDataset("/work/shared/fixtures/lvis/c01_tiny/gt.json", { cache: false });
 * await writeDatasetCache(dataset, "/tmp/c01.tds");
 * (await readDatasetCache("/tmp/c01.tds")).annotations.count; // 9
 * ```
 */
export async function writeDatasetCache(ds: Dataset, path: string): Promise<void> {
  const cols = _columnsOf(ds);
  const columns: _Column[] = [];
  let offset = 0;
  for (const { name, array } of cols) {
    columns.push({ name, type: array.constructor.name, length: array.length, offset });
    offset += Math.ceil(array.byteLength / 8) * 8;
  }
  const header: _Header = {
    version: VERSION,
    format: ds.format,
    assumed: ds.assumed,
    source: ds.source,
    imageRoot: ds.imageRoot,
    contentHash: ds.contentHash,
    counts: { images: ds.images.count, annotations: ds.annotations.count, categories: ds.categories.count },
    fileNames: ds.images.fileNames,
    categoryNames: ds.categories.names,
    columns,
    totalBytes: offset,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((12 + headerBytes.length) % 8)) % 8;
  const prefix = new Uint8Array(12 + headerBytes.length + pad);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(8, headerBytes.length + pad, true);
  prefix.set(headerBytes, 12);
  prefix.fill(0x20, 12 + headerBytes.length);
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      await _writeAll(f, prefix);
      for (const { array } of cols) {
        await _writeAll(f, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
        const rest = Math.ceil(array.byteLength / 8) * 8 - array.byteLength;
        if (rest) await _writeAll(f, new Uint8Array(rest));
      }
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

async function _writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off, off + (64 << 20)));
}

async function _readExactly(f: Deno.FsFile, into: Uint8Array, path: string): Promise<void> {
  for (let off = 0; off < into.length;) {
    const n = await f.read(into.subarray(off));
    if (n === null) throw new InputError(`Cannot read dataset cache "${path}": the file is truncated`);
    off += n;
  }
}

/** `masks: false` skips the mask geometry (the largest columns) when only boxes are needed. */
export async function readDatasetCache(
  path: string,
  options: {
    masks?: boolean;
    /** @deprecated the same as `masks` */
    polygons?: boolean;
  } = {},
): Promise<Dataset> {
  const masks = options.masks ?? options.polygons ?? true;
  const f = await Deno.open(path);
  try {
    const head = new Uint8Array(12);
    await _readExactly(f, head, path);
    if (new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) {
      throw new InputError(`Cannot read dataset cache "${path}": not a tailor dataset cache`);
    }
    const headerLen = new DataView(head.buffer).getUint32(8, true);
    const hb = new Uint8Array(headerLen);
    await _readExactly(f, hb, path);
    const header = JSON.parse(new TextDecoder().decode(hb)) as _Header;
    if (header.version !== VERSION) {
      throw new InputError(`Cannot read dataset cache "${path}": version ${header.version}, expected ${VERSION}`);
    }
    const base = 12 + headerLen;
    const groups: Record<string, Record<string, unknown>> = {
      images: { count: header.counts.images, fileNames: header.fileNames },
      annotations: { count: header.counts.annotations },
      categories: { count: header.counts.categories, names: header.categoryNames },
    };
    for (const col of header.columns) {
      const [g, k] = col.name.split(".");
      const Type = _TYPES[col.type];
      if (!masks && _MASK_COLUMNS.has(col.name)) {
        groups[g][k] = new Type(0);
        continue;
      }
      const array = new Type(col.length);
      await f.seek(base + col.offset, Deno.SeekMode.Start);
      await _readExactly(f, new Uint8Array(array.buffer), path);
      groups[g][k] = array;
    }
    return {
      format: header.format,
      source: header.source,
      imageRoot: header.imageRoot,
      contentHash: header.contentHash,
      hasMasks: masks,
      assumed: header.assumed,
      images: groups.images as unknown as Dataset["images"],
      annotations: groups.annotations as unknown as Dataset["annotations"],
      categories: groups.categories as unknown as Dataset["categories"],
    };
  } finally {
    f.close();
  }
}
