/** `predict` with `shards: N`: contiguous slices cut at whole batches; the merge is byte-identical. */
import { dirname, join } from "node:path";
import { z } from "zod";
import { writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { InputError, quote } from "../core/errors.ts";
import { checkShardOrder, partsParam, type Shard, shardParam } from "../pipeline/sharding.ts";
import { defineStage } from "../pipeline/stage.ts";
import { predictOutput, predictParams, predictStage } from "./predict.ts";

const SHARD_FILE = "shard.json";

interface _ShardInfo extends Shard {
  images: number;
  detections: number;
}

export const predictPartStage = defineStage({
  kind: "predict-part",
  description: "One shard of a sharded predict stage: the detections of a slice of the images",
  params: predictParams.extend({ shard: shardParam }),
  output: z.object({ part: z.string(), images: z.int(), detections: z.int() }),
  async run({ shard, ...params }, ctx) {
    const out = await predictStage.run(params, { ...ctx, shard });
    const info: _ShardInfo = { ...shard, images: out.images, detections: out.detections };
    await writeJsonAtomic(join(ctx.outDir, SHARD_FILE), info);
    return { part: out.results, images: out.images, detections: out.detections };
  },
});

export const predictMergeStage = defineStage({
  kind: "predict-merge",
  description: "Join the parts of a sharded predict stage into one results file",
  params: predictParams.extend({ parts: partsParam }),
  output: predictOutput,
  async run({ parts }, ctx) {
    const infos = await Promise.all(parts.map((p) => _readJson<_ShardInfo>(join(dirname(p), SHARD_FILE))));
    checkShardOrder(infos, parts);
    // JSON.stringify of an array joins items with ",": joining the parts' items reproduces it.
    const bodies: Uint8Array[] = [];
    for (const path of parts) {
      const bytes = await _readBytes(path);
      const n = bytes.length;
      if (n < 3 || bytes[0] !== 0x5b || bytes[n - 2] !== 0x5d || bytes[n - 1] !== 0x0a) {
        throw new InputError(`Cannot merge ${quote(path)}: expected a JSON list written by predict-part`);
      }
      if (n > 3) bodies.push(bytes.subarray(1, n - 2));
    }
    const size = bodies.reduce((s, b) => s + b.length, 0) + Math.max(0, bodies.length - 1) + 3;
    const merged = new Uint8Array(size);
    merged[0] = 0x5b;
    let at = 1;
    bodies.forEach((b, i) => {
      if (i) merged[at++] = 0x2c;
      merged.set(b, at);
      at += b.length;
    });
    merged[at++] = 0x5d;
    merged[at] = 0x0a;
    const results = join(ctx.outDir, "results.json");
    await writeFileAtomic(results, merged);
    const images = infos.reduce((s, i) => s + i.images, 0);
    const detections = infos.reduce((s, i) => s + i.detections, 0);
    ctx.log(`${detections} detections on ${images} images from ${parts.length} parts`);
    return { results, images, detections };
  },
});

async function _readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new InputError(`Cannot read ${quote(path)}: ${(e as Error).message}`);
  }
}

async function _readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(new TextDecoder().decode(await _readBytes(path)));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`Cannot read ${quote(path)}: ${(e as Error).message}`);
  }
}
