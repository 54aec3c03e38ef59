// A parsed YAML file that remembers where every node came from, so errors name the file, line and column.
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { InputError } from "../core/errors.ts";

export type YamlPath = readonly (string | number)[];

/** Format a path as `stages.train.with.lr` / `runs[2].name`. */
export function formatPath(path: YamlPath): string {
  let s = "";
  for (const part of path) s += typeof part === "number" ? `[${part}]` : s ? `.${part}` : part;
  return s || "(root)";
}

export class YamlSource {
  readonly value: unknown;
  readonly #doc: ReturnType<typeof parseDocument>;
  readonly #lines = new LineCounter();

  /** Syntax errors throw an `InputError` naming `file:line:col`. */
  constructor(readonly file: string, text: string) {
    this.#doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: true });
    const err = this.#doc.errors[0];
    if (err) {
      const { line, col } = this.#lines.linePos(err.pos[0]);
      const first = err.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      throw new InputError(`${file}:${line}:${col}: Invalid YAML: ${first}`);
    }
    this.value = this.#doc.toJS() ?? {};
  }

  /** `file:line:col` of the deepest existing node along `path` (a key's position when `key` is set). */
  where(path: YamlPath, key = false): string {
    let node: unknown = this.#doc.contents;
    let pos = (node as Node | null)?.range?.[0] ?? 0;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === part);
        if (!pair) break;
        const keyNode = pair.key as Node | undefined;
        const valueNode = pair.value as Node | null;
        pos = (key && part === path.at(-1) ? keyNode?.range?.[0] : valueNode?.range?.[0] ?? keyNode?.range?.[0]) ??
          pos;
        node = pair.value;
      } else if (isSeq(node) && typeof part === "number" && node.items[part]) {
        node = node.items[part];
        pos = (node as Node).range?.[0] ?? pos;
      } else break;
    }
    const { line, col } = this.#lines.linePos(pos);
    return `${this.file}:${line}:${col}`;
  }

  error(path: YamlPath, message: string, key = false): InputError {
    return new InputError(`${this.where(path, key)}: ${message}`);
  }
}
