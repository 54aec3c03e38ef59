/**
 * Rename (key_map.ts), match every name and shape, then write: any mismatch refuses the whole file.
 * `scope: "backbone"` takes the backbone only; `"all"` keeps class heads at init if classes or form differ.
 */
import { InputError, quote } from "../../core/errors.ts";
import { describeStateDict } from "./describe.ts";
import { CLASS_PARAMS, moveRows, type TorchvisionStateDict, toTorchvisionNames } from "./key_map.ts";
import { readWeights } from "./read.ts";
import type { NamedArray } from "./safetensors.ts";

export type LoadScope = "backbone" | "all";

export interface LoadOptions {
  scope: LoadScope;
  /** Foreground classes of the model; by default read from its classifier's rows. */
  numClasses?: number;
  /** Where the model's classifier keeps the background row: torchvision's first (default), tailor's losses' last. */
  background?: "first" | "last";
  /** The model's name in messages, e.g. "r50_fpn". */
  model?: string;
  log?: (line: string) => void;
}

/** What `loadCheckpointInto` needs of a parameter store (`ParamStore` has it). */
export interface ParamTarget {
  entries(): [string, { readonly shape: readonly number[]; write(data: Float32Array): void }][];
}

export interface LoadPlan {
  writes: Map<string, Float32Array>;
  /** Class-dependent parameters left at their initial values. */
  reinitialised: string[];
  /** File tensors outside the scope, not loaded. */
  ignored: string[];
  /** Why parameters were re-initialised, for the log. */
  notes: string[];
}

type ClassKind = keyof typeof CLASS_PARAMS | "tailor";

function classKind(name: string): ClassKind | null {
  for (const [kind, prefix] of Object.entries(CLASS_PARAMS)) {
    if (name.startsWith(`${prefix}.`)) return kind as ClassKind;
  }
  return name.startsWith("roi.cls.") ? "tailor" : null;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Whether two shapes of a class-dependent parameter differ at most in the class dimension. */
function sameButClasses(kind: ClassKind, a: readonly number[], b: readonly number[]): boolean {
  // torchvision's class rows are the first dimension; tailor's own heads keep [in, out].
  return kind === "tailor" ? same(a.slice(0, -1), b.slice(0, -1)) : same(a.slice(1), b.slice(1));
}

/** Match `sd` against the model's shapes: an `InputError` naming `file` when they do not fit, else what to write. */
export function planLoad(
  target: Map<string, readonly number[]>,
  sd: TorchvisionStateDict,
  file: string,
  opts: LoadOptions,
): LoadPlan {
  const model = opts.model ?? "the model";
  const prefix = opts.scope === "all"
    ? ""
    : [...target.keys()].some((k) => k.startsWith("backbone.body."))
    ? "backbone.body."
    : "backbone.";
  const wanted = [...target].filter(([k]) => k.startsWith(prefix));
  if (wanted.length === 0) throw new InputError(`${model} has no parameters under "${prefix}" to load "${file}" into`);
  const found = wanted.filter(([k]) => sd.tensors.has(k)).length;
  // An ImageNet classifier has the backbone of a detector and nothing else: say so rather than list the rest.
  const backboneOnly = sd.naming === "resnet" && opts.scope === "all";
  if (found < wanted.length / 2 || backboneOnly) {
    throw new InputError(
      `"${file}" is not a checkpoint for ${model}: it looks like ${describeStateDict(sd)}; ` +
        `${found} of the model's ${wanted.length} ${prefix ? "backbone " : ""}tensors are in it` +
        (backboneOnly ? "; load it with scope: backbone" : ""),
    );
  }
  const problems: string[] = [];
  const plan: LoadPlan = { writes: new Map(), reinitialised: [], ignored: [], notes: [] };
  const classes = new ClassRows(target, sd, file, opts);
  for (const [name, shape] of wanted) {
    const src = sd.tensors.get(name);
    if (!src) {
      problems.push(`missing ${quote(name)} [${shape}]`);
      continue;
    }
    const kind = opts.scope === "all" ? classKind(name) : null;
    if (kind !== null && sameButClasses(kind, src.shape, shape)) {
      const data = classes.convert(name, kind, src, shape);
      if (data) plan.writes.set(name, data);
      else plan.reinitialised.push(name);
    } else if (!same(src.shape, shape)) {
      problems.push(`${quote(name)} is [${src.shape}] in the file, [${shape}] in the model`);
    } else plan.writes.set(name, src.data);
  }
  for (const [key, t] of sd.tensors) {
    if (!key.startsWith(prefix)) plan.ignored.push(key);
    else if (!target.has(key)) problems.push(`unexpected ${quote(key)} [${t.shape}]`);
  }
  if (problems.length) {
    const count = (what: string) => problems.filter((p) => p.startsWith(what)).length;
    const missing = count("missing"), unexpected = count("unexpected");
    throw new InputError(
      `Weights in "${file}" do not fit ${model} (${missing} missing, ${unexpected} unexpected, ` +
        `${problems.length - missing - unexpected} wrongly shaped): ${problems.slice(0, 10).join("; ")}` +
        (problems.length > 10 ? `; and ${problems.length - 10} more` : ""),
    );
  }
  plan.notes = classes.notes();
  return plan;
}

/** The first of `count` equal blocks of `data`, or null where they differ. */
function commonBlock(data: Float32Array, count: number): Float32Array | null {
  const block = data.length / count, first = data.subarray(0, block);
  return data.every((v, i) => v === first[i % block]) ? first.slice() : null;
}

/** Class rows converted from torchvision's conventions when the classes agree, else left at their init. */
class ClassRows {
  readonly #sourceClasses: number | null;
  readonly #modelClasses: number | null;
  readonly #background: "first" | "last";
  readonly #why = new Set<string>();

  constructor(target: Map<string, readonly number[]>, sd: TorchvisionStateDict, readonly file: string, o: LoadOptions) {
    const key = `${CLASS_PARAMS.scores}.bias`;
    const fileRows = sd.tensors.get(key)?.shape[0], modelRows = target.get(key)?.[0];
    this.#sourceClasses = fileRows === undefined ? null : fileRows - 1;
    this.#modelClasses = o.numClasses ?? (modelRows === undefined ? null : modelRows - 1);
    this.#background = o.background ?? "first";
  }

  convert(name: string, kind: ClassKind, src: NamedArray, shape: readonly number[]): Float32Array | null {
    if (kind === "tailor") {
      if (same(src.shape, shape)) return src.data;
      this.#why.add(
        `the classifier "roi.cls" has ${src.shape.at(-1)} columns in the file, ${shape.at(-1)} in the model`,
      );
      return null;
    }
    const C = this.#sourceClasses;
    if (C === null || C !== this.#modelClasses) {
      this.#why.add(`the file has ${C ?? "no"} classes, the model ${this.#modelClasses}`);
      return null;
    }
    const rows = shape[0], bg = this.#background;
    if (kind === "scores" && rows === C + 1) return moveRows(src, 1, "first", bg).data;
    if (kind === "masks" && rows === C + 1) return moveRows(src, 1, "first", bg).data;
    // A model with one mask per foreground class: torchvision's background mask is never used.
    if (kind === "masks" && rows === C) return src.data.slice(src.data.length / (C + 1));
    // A class-agnostic mask (tailor's small presets) takes one as it is, or all-equal rows (its export).
    if (kind === "masks" && rows === 1) {
      const one = commonBlock(src.data, src.shape[0]);
      if (!one) this.#why.add("the file has a mask per class, the model one mask for all classes");
      return one;
    }
    if (kind === "boxes" && rows === 4 * (C + 1)) return moveRows(src, 4, "first", bg).data;
    // A class-agnostic regressor (the sigmoid losses' form) takes one as it is.
    if (kind === "boxes" && rows === 4 && src.shape[0] === 4) return src.data;
    if (kind === "boxes" && rows === 4) {
      // Class-agnostic boxes can take only a regressor whose per-class blocks are all equal.
      const one = commonBlock(src.data, C + 1);
      if (!one) this.#why.add("the file regresses boxes per class, the model one box for all classes");
      return one;
    }
    this.#why.add(`${quote(name)} has ${rows} rows in the model for ${C} classes, a form the file does not have`);
    return null;
  }

  notes(): string[] {
    return [...this.#why];
  }
}

/**
 * Load `file` (`.pth` or safetensors; torchvision, mmdetection or ImageNet ResNet names) into `params`.
 * Nothing is written unless every parameter in scope fits.
 *
 * @example
 * ```ts
 * const det = new Detector(config, numClasses, columns, new Rng(1));
 * det.build();
 * await loadCheckpointInto(det.params, "resnet50-0676ba61.pth", { scope: "backbone", log: console.log });
 * ```
 */
export async function loadCheckpointInto(params: ParamTarget, file: string, opts: LoadOptions): Promise<LoadPlan> {
  const { tensors, format, container } = await readWeights(file);
  const sd = toTorchvisionNames(tensors, file);
  const entries = params.entries();
  const plan = planLoad(new Map(entries.map(([k, t]) => [k, t.shape])), sd, file, opts);
  for (const [name, t] of entries) {
    const data = plan.writes.get(name);
    if (data) t.write(data);
  }
  const log = opts.log ?? (() => {});
  const where = container ? ` (under "${container}")` : "";
  log(`loaded ${plan.writes.size} tensors from "${file}"${where}: ${format}, ${sd.naming} names, scope ${opts.scope}`);
  if (sd.dropped.length) {
    const why = [...new Set(sd.dropped.map((d) => d.why))].join(", ");
    log(`left out ${sd.dropped.length} tensors of the file on purpose (${why})`);
  }
  if (plan.ignored.length) log(`left out ${plan.ignored.length} tensors outside the ${opts.scope} scope`);
  if (plan.reinitialised.length) {
    log(`re-initialised ${plan.reinitialised.join(", ")}: ${plan.notes.join("; ")}`);
  }
  return plan;
}
