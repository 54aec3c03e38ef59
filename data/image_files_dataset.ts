// Plain image files as a dataset without annotations, so the batch loader serves a detector run on any pictures.
import { extname, join, resolve } from "node:path";
import sharp from "sharp";
import { InputError, InputErrors } from "../core/errors.ts";
import type { Dataset } from "./dataset.ts";

const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".avif"]);

/** Image files of `paths`: files as given, folders by name (not recursive); every missing path reported at once. */
export async function listImageFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (e) {
      problems.push(
        `Cannot read image ${JSON.stringify(path)}: ${
          e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message
        }`,
      );
      continue;
    }
    if (!info.isDirectory) {
      out.push(resolve(path));
      continue;
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(path)) {
      if (e.isFile && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) names.push(e.name);
    }
    if (names.length === 0) problems.push(`No image files in folder ${JSON.stringify(path)}`);
    out.push(...names.sort().map((n) => resolve(join(path, n))));
  }
  if (problems.length === 1) throw new InputError(problems[0]);
  if (problems.length > 1) throw new InputErrors(problems);
  return out;
}

/** A dataset of `files`, image ids 1..n, no annotations; each file's size is read from its header. */
export async function imageFilesDataset(files: readonly string[]): Promise<Dataset> {
  const width = new Int32Array(files.length), height = new Int32Array(files.length);
  for (const [i, file] of files.entries()) {
    try {
      const meta = await sharp(await Deno.readFile(file)).metadata();
      // EXIF-rotated photos are decoded as stored; their stored size is the one to plan with.
      width[i] = meta.width ?? 0;
      height[i] = meta.height ?? 0;
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message.split("\n")[0];
      throw new InputError(`Cannot read image ${JSON.stringify(file)}: ${why}`);
    }
  }
  const n = files.length;
  const none = () => new Uint32Array(0);
  return {
    format: "coco",
    source: "(image files)",
    imageRoot: "/",
    contentHash: "",
    hasMasks: false,
    assumed: { frequency: true, exhaustive: true },
    images: {
      count: n,
      ids: Float64Array.from(files, (_, i) => i + 1),
      width,
      height,
      fileNames: [...files],
      annStart: new Uint32Array(n + 1),
      negStart: new Uint32Array(n + 1),
      negCategories: none(),
      notExhaustiveStart: new Uint32Array(n + 1),
      notExhaustiveCategories: none(),
    },
    annotations: {
      count: 0,
      ids: new Float64Array(0),
      image: none(),
      category: none(),
      bbox: new Float64Array(0),
      area: new Float64Array(0),
      iscrowd: new Uint8Array(0),
      polyStart: none(),
      polyEnd: none(),
      coordStart: new Uint32Array(1),
      coords: new Float32Array(0),
      rleStart: none(),
      rleEnd: none(),
      rleCounts: none(),
    },
    categories: {
      count: 0,
      ids: new Int32Array(0),
      names: [],
      frequency: new Uint8Array(0),
      imageCount: none(),
      instanceCount: none(),
    },
  };
}
