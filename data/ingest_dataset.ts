import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { InputError, InputErrors, quote } from "../core/errors.ts";
import { writeJsonAtomic } from "../core/atomic.ts";
import type { Dataset } from "./dataset.ts";
import { readDatasetCache, writeDatasetCache } from "./dataset_cache.ts";
import { buildDataset } from "./ingest/build_dataset.ts";
import { type IngestIssues, IssueLog, summarizeIssues } from "./ingest/issues.ts";
import { readAnnotationFile } from "./ingest/read_annotation_file.ts";

export interface IngestOptions {
  /** Folder the images' file names are relative to; default: the parent of an `annotations/` folder, else the file's folder. */
  imageRoot?: string;
  cache?: string | false;
  /** Load the mask geometry, polygons and RLE (default true); boxes-only training skips it. */
  masks?: boolean;
  /** @deprecated the same as `masks` */
  polygons?: boolean;
  /** "throw" (default): any error stops ingestion. "skip": leave the offending annotations out and go on. */
  onError?: "throw" | "skip";
  chunkBytes?: number;
  /** Told the bytes parsed of the file's total while a file is read (not on a cache hit). */
  onProgress?: (bytes: number, totalBytes: number) => void;
}

export interface IngestResult {
  dataset: Dataset;
  issues: IngestIssues;
  cachePath?: string;
  fromCache: boolean;
}

interface _CacheIndex {
  source: string;
  size: number;
  mtimeMs: number;
  contentHash: string;
  imageRoot: string;
  issues: IngestIssues;
}

function _defaultImageRoot(path: string): string {
  const dir = dirname(resolve(path));
  return basename(dir) === "annotations" ? dirname(dir) : dir;
}

/**
 * Stream, validate and index `path`; a cache hit (same path, size, mtime, content-hash file present) skips parsing.
 *
 * @example
 * ```ts
 * import { ingestDataset } from "./ingest_dataset.ts";
 * const { dataset } = await ingestDataset("/work/shared/fixtures/lvis/c01_tiny/gt.json", { cache: false });
 * dataset.categories.count; // 6
 * ```
 */
export async function ingestDataset(path: string, options: IngestOptions = {}): Promise<IngestResult> {
  const source = resolve(path);
  const imageRoot = resolve(options.imageRoot ?? _defaultImageRoot(path));
  const masks = options.masks ?? options.polygons ?? true;
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(source);
  } catch {
    throw new InputError(`Cannot read annotation file ${JSON.stringify(path)}: no such file`);
  }
  if (options.imageRoot !== undefined) await _checkImageRoot(options.imageRoot);
  const cacheDir = options.cache === false ? undefined : resolve(options.cache ?? ".cache/datasets");
  const indexPath = cacheDir && join(cacheDir, "by_path", createHash("sha256").update(source).digest("hex") + ".json");
  if (cacheDir && indexPath) {
    const hit = await _cacheHit(indexPath, stat, imageRoot);
    if (hit) {
      // A file whose errors were skipped once still fails a caller who did not ask to skip them.
      if (Object.keys(hit.issues.errors).length > 0 && (options.onError ?? "throw") === "throw") {
        throw new InputError(`${hit.issues.messages[0]} (${summarizeIssues(hit.issues)})`);
      }
      const cachePath = join(cacheDir, `${hit.contentHash}.tds`);
      try {
        const dataset = await readDatasetCache(cachePath, { masks });
        return { dataset: { ...dataset, source, imageRoot }, issues: hit.issues, cachePath, fromCache: true };
      } catch {
        // A missing or damaged cache is rebuilt below.
      }
    }
  }
  const issues = new IssueLog();
  const name = basename(path);
  const raw = await readAnnotationFile(source, {
    issues,
    name,
    chunkBytes: options.chunkBytes,
    onProgress: options.onProgress,
  });
  const dataset = buildDataset(raw, { source, imageRoot, issues, name });
  const report = issues.snapshot();
  if (issues.errorCount > 0 && (options.onError ?? "throw") === "throw") {
    const errors = issues.errorMessages, summary = summarizeIssues(report);
    if (errors.length === 1) throw new InputError(`${errors[0]} (${summary})`);
    // Every kind of error at once, the first few of each, so that one fix-and-rerun can fix them all.
    throw new InputErrors([...errors, `${basename(path)}: ${summary}`]);
  }
  const withoutMasks = (): Dataset => ({
    ...dataset,
    hasMasks: false,
    annotations: { ...dataset.annotations, coords: new Float32Array(0), rleCounts: new Uint32Array(0) },
  });
  if (!cacheDir || !indexPath) return { dataset: masks ? dataset : withoutMasks(), issues: report, fromCache: false };
  const cachePath = join(cacheDir, `${dataset.contentHash}.tds`);
  await writeDatasetCache(dataset, cachePath);
  const index: _CacheIndex = {
    source,
    size: stat.size,
    mtimeMs: stat.mtime?.getTime() ?? 0,
    contentHash: dataset.contentHash,
    imageRoot,
    issues: report,
  };
  await writeJsonAtomic(indexPath, index);
  return { dataset: masks ? dataset : withoutMasks(), issues: report, cachePath, fromCache: false };
}

/** A given image root must be a folder: a wrong one otherwise shows only when training reads the first image. */
async function _checkImageRoot(root: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such folder" : (e as Error).message.split("\n")[0];
    throw new InputError(`Cannot use image folder ${quote(root)}: ${why}`);
  }
  if (!info.isDirectory) throw new InputError(`Cannot use image folder ${quote(root)}: it is a file`);
}

async function _cacheHit(indexPath: string, stat: Deno.FileInfo, imageRoot: string): Promise<_CacheIndex | undefined> {
  try {
    const index = JSON.parse(await Deno.readTextFile(indexPath)) as _CacheIndex;
    const same = index.size === stat.size && index.mtimeMs === (stat.mtime?.getTime() ?? 0);
    return same ? { ...index, imageRoot } : undefined;
  } catch {
    return undefined;
  }
}
