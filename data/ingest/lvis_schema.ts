import { z } from "zod";
import { quote } from "../../core/errors.ts";

const _id = z.number().int().nonnegative();
const _ids = z.array(_id);

function _numbers(count: number) {
  return z.array(z.number()).superRefine((v, ctx) => {
    if (v.length !== count) ctx.addIssue({ code: "custom", message: `expected ${count} numbers, got ${v.length}` });
  });
}

/** One polygon: an even number of coordinates, at least 3 points. */
const _polygon = z.array(z.number()).superRefine((v, ctx) => {
  if (v.length % 2 !== 0) {
    ctx.addIssue({ code: "custom", message: `expected an even number of coordinates, got ${v.length}` });
  }
});

export const imageSchema = z.looseObject({
  id: _id,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  file_name: z.string().optional(),
  coco_url: z.string().optional(),
  neg_category_ids: _ids.optional(),
  not_exhaustive_category_ids: _ids.optional(),
});

export const categorySchema = z.looseObject({
  id: _id,
  name: z.string(),
  frequency: z.enum(["r", "c", "f"]).optional(),
  image_count: z.number().int().nonnegative().optional(),
  instance_count: z.number().int().nonnegative().optional(),
});

/** A run-length mask: `size` [height, width], `counts` uncompressed (a list) or compressed (COCO's string). */
export const rleSchema = z.looseObject({
  counts: z.union([z.string(), z.array(z.number().int().nonnegative())]),
  size: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** `annotations[]` entry; segmentation is polygons, or one RLE (COCO crowd regions, or masks stored as RLE). */
export const annotationSchema = z.looseObject({
  id: _id,
  image_id: _id,
  category_id: _id,
  bbox: _numbers(4),
  area: z.number().nonnegative(),
  segmentation: z.union([z.array(_polygon), rleSchema]).optional(),
  iscrowd: z.union([z.literal(0), z.literal(1)]).optional(),
});

export type AnnotationRecord = z.infer<typeof annotationSchema>;

function _at(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) v = v == null ? undefined : (v as Record<PropertyKey, unknown>)[k];
  return v;
}

export function jsonPath(base: string, path: readonly PropertyKey[]): string {
  return base + path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("");
}

/** On failure, the one-line message naming the file, the JSON path and the value. */
export function checkRecord<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: { file: string; path: string },
): { ok: true; value: z.infer<T> } | { ok: false; message: string } {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const path = jsonPath(where.path, issue.path);
  const got = _at(value, issue.path);
  let detail: string;
  if (issue.code === "custom") detail = issue.message;
  else if (issue.code === "invalid_type" && got === undefined) detail = `missing, expected ${issue.expected}`;
  else if (issue.code === "invalid_type") detail = `expected ${issue.expected}, got ${quote(got)}`;
  else detail = `${issue.message.replace(/^Invalid input: /, "")}, got ${quote(got)}`;
  return { ok: false, message: `Cannot read "${path}" in "${where.file}": ${detail}` };
}
