// `shards: N`: N part instances over disjoint slices and a merge that joins them into the stage's own output,
// so later stages cannot tell a sharded stage from an unsharded one.
import { z } from "zod";
import { InputError, quote } from "../core/errors.ts";

export interface StageSharding {
  /** Kind of each part: the stage's parameters plus `shard`; its output has a `part` (a path the merge reads). */
  part: string;
  /** Kind of the merge: the stage's parameters plus `parts` (the parts' `part` outputs in shard order). */
  merge: string;
}

export const shardParam = z.strictObject({ index: z.int().min(0), count: z.int().min(1) })
  .refine((s) => s.index < s.count, "expected index < count");

export const partsParam = z.array(z.string().min(1)).min(1);

export type Shard = z.infer<typeof shardParam>;

/**
 * The range of `items` that shard `index` of `count` takes: contiguous, disjoint, cut only at multiples of
 * `unit` (a batch), so every part sees the same batches as one unsharded pass.
 */
export function shardRange(items: number, shard: Shard, unit: number, what: string): [number, number] {
  if (shard.count > items) {
    throw new InputError(`Invalid shards: ${shard.count}: more shards than the ${items} ${what} to share out`);
  }
  const units = Math.ceil(items / unit);
  const first = Math.floor((shard.index * units) / shard.count);
  const last = Math.floor(((shard.index + 1) * units) / shard.count);
  return [Math.min(items, first * unit), Math.min(items, last * unit)];
}

export function partId(id: string, index: number, count: number): string {
  return `${id}.shard-${index}-of-${count}`;
}

/** Check that parts read back are shards 0..n-1 of n, in order. */
export function checkShardOrder(shards: readonly Shard[], files: readonly string[]): void {
  shards.forEach((s, i) => {
    if (s.index !== i || s.count !== shards.length) {
      throw new InputError(
        `Cannot merge ${
          quote(files[i])
        }: it is shard ${s.index} of ${s.count}, expected shard ${i} of ${shards.length}`,
      );
    }
  });
}
