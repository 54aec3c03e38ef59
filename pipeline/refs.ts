// `${vars.x}`, `${matrix.x}`, `${stage.output}`: stage references stay symbolic until that stage has run.

export class OutputRef {
  constructor(readonly stageId: string, readonly output: string, readonly text: string) {}
}

/** A string with stage references inside, e.g. `"${train.dir}/model.bin"`. */
export class Interpolation {
  constructor(readonly parts: readonly (string | OutputRef)[]) {}
}

export interface RefToken {
  scope: string;
  name: string;
  text: string;
  start: number;
  end: number;
}

const REF = /\$\{\s*([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}/g;

export function findRefs(text: string): RefToken[] {
  return [...text.matchAll(REF)].map((m) => ({
    scope: m[1],
    name: m[2],
    text: m[0],
    start: m.index!,
    end: m.index! + m[0].length,
  }));
}

/** Replace every reference in a params tree by `lookup(ref)`, turning interpolations into strings. */
export function resolveRefs(value: unknown, lookup: (ref: OutputRef) => unknown): unknown {
  if (value instanceof OutputRef) return lookup(value);
  if (value instanceof Interpolation) {
    return value.parts.map((p) => (typeof p === "string" ? p : String(lookup(p)))).join("");
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, lookup));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, lookup)]));
  }
  return value;
}

export function collectRefs(value: unknown, into: OutputRef[] = []): OutputRef[] {
  if (value instanceof OutputRef) into.push(value);
  else if (value instanceof Interpolation) { for (const p of value.parts) collectRefs(p, into); }
  else if (Array.isArray(value)) { for (const v of value) collectRefs(v, into); }
  else if (value !== null && typeof value === "object") { for (const v of Object.values(value)) collectRefs(v, into); }
  return into;
}
