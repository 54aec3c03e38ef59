// Streams an annotation file of any size (LVIS v1 train is longer than V8's longest string) into raw columns.
import { InputError } from "../../core/errors.ts";
import type { Frequency } from "../dataset.ts";
import { AnnotationColumns } from "./annotation_columns.ts";
import { ByteCursor, NEED_MORE } from "./byte_cursor.ts";
import type { IssueLog } from "./issues.ts";
import { categorySchema, checkRecord, imageSchema } from "./lvis_schema.ts";

export interface RawImages {
  ids: number[];
  width: number[];
  height: number[];
  fileNames: string[];
  neg: (number[] | undefined)[];
  notExhaustive: (number[] | undefined)[];
}

export interface RawCategories {
  ids: number[];
  names: string[];
  frequency: (Frequency | undefined)[];
  imageCount: (number | undefined)[];
  instanceCount: (number | undefined)[];
}

export interface RawAnnotationFile {
  info: unknown;
  images: RawImages;
  categories: RawCategories;
  annotations: AnnotationColumns;
  contentHash: string;
  /** Whether LVIS fields (federated labels, frequencies) appeared. */
  lvis: boolean;
}

interface _ElementReader {
  begin(): void;
  rollback(): void;
  parse(c: ByteCursor, index: number): void;
}

async function _step<T>(c: ByteCursor, fn: () => T): Promise<T> {
  for (;;) {
    const mark = c.p;
    try {
      return fn();
    } catch (e) {
      if (e !== NEED_MORE) throw e;
      c.p = mark;
      await c.refill(mark);
    }
  }
}

async function _array(c: ByteCursor, key: string, reader: _ElementReader): Promise<void> {
  await _step(c, () => {
    if (c.peek() !== 0x5b) throw c.syntaxError("expected an array", key);
    c.p++;
  });
  let index = 0;
  for (let done = false; !done;) {
    let mark = c.p;
    try {
      for (;;) {
        mark = c.p;
        reader.begin();
        const x = c.peek();
        if (x === 0x5d) {
          c.p++;
          done = true;
          break;
        }
        if (index > 0) {
          if (x !== 0x2c) throw c.syntaxError('expected "," or "]"', `${key}[${index}]`);
          c.p++;
        }
        reader.parse(c, index);
        index++;
      }
    } catch (e) {
      if (e !== NEED_MORE) throw e;
      reader.rollback();
      c.p = mark;
      await c.refill(mark);
    }
  }
}

function _recordReader(key: string, take: (value: unknown, path: string) => void): _ElementReader {
  return {
    begin() {},
    rollback() {},
    parse(c, index) {
      const path = `${key}[${index}]`;
      take(c.value(path), path);
    },
  };
}

function _fileNameOf(img: { id: number; file_name?: string; coco_url?: string }): string {
  if (img.file_name) return img.file_name;
  // LVIS v1 names images only by their COCO URL: ".../train2017/000000391895.jpg".
  if (img.coco_url) return img.coco_url.split("/").slice(-2).join("/");
  return String(img.id);
}

/** Malformed records are logged in `issues` and left out; broken JSON throws an `InputError` naming the byte. */
export async function readAnnotationFile(
  path: string,
  options: {
    issues: IssueLog;
    name?: string;
    chunkBytes?: number;
    /** Told the bytes read of the file's total after each chunk. */
    onProgress?: (bytes: number, totalBytes: number) => void;
  },
): Promise<RawAnnotationFile> {
  const name = options.name ?? path.split("/").pop()!;
  const { issues } = options;
  const size = (await Deno.stat(path)).size;
  const images: RawImages = { ids: [], width: [], height: [], fileNames: [], neg: [], notExhaustive: [] };
  const categories: RawCategories = { ids: [], names: [], frequency: [], imageCount: [], instanceCount: [] };
  const annotations = new AnnotationColumns({ expectedBytes: size, issues, file: name });
  let info: unknown = undefined;
  let lvis = false;
  const readers: Record<string, _ElementReader> = {
    annotations,
    images: _recordReader("images", (value, p) => {
      const r = checkRecord(imageSchema, value, { file: name, path: p });
      if (!r.ok) return issues.error("malformed image", r.message);
      const img = r.value;
      images.ids.push(img.id);
      images.width.push(img.width);
      images.height.push(img.height);
      images.fileNames.push(_fileNameOf(img));
      images.neg.push(img.neg_category_ids);
      images.notExhaustive.push(img.not_exhaustive_category_ids);
      if (img.neg_category_ids || img.not_exhaustive_category_ids) lvis = true;
    }),
    categories: _recordReader("categories", (value, p) => {
      const r = checkRecord(categorySchema, value, { file: name, path: p });
      if (!r.ok) return issues.error("malformed category", r.message);
      const cat = r.value;
      categories.ids.push(cat.id);
      categories.names.push(cat.name);
      categories.frequency.push(cat.frequency);
      categories.imageCount.push(cat.image_count);
      categories.instanceCount.push(cat.instance_count);
      if (cat.frequency) lvis = true;
    }),
  };
  const seen = new Set<string>();
  const onProgress = options.onProgress;
  const c = await ByteCursor.open(path, name, options.chunkBytes, onProgress && ((n) => onProgress(n, size)));
  try {
    await _step(c, () => c.expect(0x7b));
    for (let first = true;; first = false) {
      const key = await _step(c, () => {
        if (c.peek() === 0x7d) {
          c.p++;
          return null;
        }
        if (!first) c.expect(0x2c);
        const k = c.value("(top-level key)");
        if (typeof k !== "string") throw c.syntaxError("expected a key");
        c.expect(0x3a, k);
        c.ws();
        return k;
      });
      if (key === null) break;
      if (seen.has(key)) throw c.syntaxError("the key appears twice", key);
      seen.add(key);
      if (key in readers) await _array(c, key, readers[key]);
      else {
        const v = await _step(c, () => c.value(key));
        if (key === "info") info = v;
      }
    }
    await _step(c, () => {
      if (c.peek() !== -1) throw c.syntaxError("unexpected data after the top-level object");
    });
    for (const k of ["images", "annotations", "categories"]) {
      if (!seen.has(k)) throw new InputError(`Cannot read "${name}": the top-level key "${k}" is missing`);
    }
  } finally {
    c.close();
  }
  return { info, images, categories, annotations, contentHash: c.digest(), lvis };
}
