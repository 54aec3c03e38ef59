import { z } from "zod";
import { type OutputRef, resolveRefs } from "./refs.ts";

type JsonSchema = Record<string, unknown>;

/**
 * A copy of `params` with stage references replaced by samples of the referenced output's type, so the
 * consumer's schema can tell a path from a number before the producer ran.
 */
export function probeParams(params: unknown, outputSchemaOf: (ref: OutputRef) => z.ZodType): unknown {
  return resolveRefs(params, (ref) => {
    const schema = outputSchemaOf(ref) as z.ZodType & { shape?: Record<string, z.ZodType> };
    const field = schema.shape?.[ref.output];
    if (!field) return "x";
    try {
      return _sample(z.toJSONSchema(field, { io: "output", unrepresentable: "any" }) as JsonSchema);
    } catch {
      return "x";
    }
  });
}

function _sample(js: JsonSchema): unknown {
  if (js.default !== undefined) return js.default;
  if (js.const !== undefined) return js.const;
  if (Array.isArray(js.enum)) return js.enum[0];
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    const options = js[key] as JsonSchema[] | undefined;
    if (options?.length) return _sample(options[0]);
  }
  const type = Array.isArray(js.type) ? js.type[0] : js.type;
  switch (type) {
    case "string":
      return "x".repeat(Math.max(1, Number(js.minLength ?? 1)));
    case "number":
    case "integer":
      return Number(js.minimum ?? (js.exclusiveMinimum !== undefined ? Number(js.exclusiveMinimum) + 1 : 1));
    case "boolean":
      return false;
    case "null":
      return null;
    case "array": {
      const n = Number(js.minItems ?? 0);
      return Array.from({ length: n }, () => _sample((js.items ?? {}) as JsonSchema));
    }
    case "object": {
      const props = (js.properties ?? {}) as Record<string, JsonSchema>;
      const required = (js.required ?? []) as string[];
      return Object.fromEntries(required.map((k) => [k, _sample(props[k] ?? {})]));
    }
    default:
      return "x";
  }
}
