/**
 * The torchvision parity fixture (tests/model/fixtures/torchvision): its
 * tensors, its metadata, and comparisons at the tolerances the parity tests
 * use.
 */
import { decodeSafetensors, type NamedArray } from "../../model/checkpoint/safetensors.ts";

const DIR = new URL("./fixtures/torchvision/", import.meta.url);

/** What generate.py wrote beside the tensors. */
export interface FixtureMeta {
  versions: Record<string, string>;
  num_classes: number;
  sizes: [number, number][];
  score_thresh: number;
  detections_per_img: number;
  state_dict: [string, number[]][];
  weights: Record<string, { index: number[]; value: number[]; scale: number; offset: number }>;
  image_samples: Record<string, number[]>;
  summaries: Record<string, { shape: number[]; stride: number; axis: number }>;
  eval: { proposals: number[]; detections: number[] };
  train: {
    losses: Record<string, number>;
    roi_batch_per_image: number;
    rpn_sampled: number[];
    trainable: string[];
    frozen: string[];
    grads: Record<string, { sum: number; sum_squares: number }>;
  };
  transform: { min_size: number; max_size: number; inputs: [number, number][]; image_sizes: [number, number][] };
}

export interface Fixture {
  meta: FixtureMeta;
  tensors: Map<string, NamedArray>;
  /** A tensor by name; throws when the fixture has none. */
  get(name: string): NamedArray;
}

let cached: Fixture | null = null;

/** Load (once) the fixture. */
export function torchvisionFixture(): Fixture {
  if (cached) return cached;
  const meta = JSON.parse(Deno.readTextFileSync(new URL("r50_fpn.json", DIR))) as FixtureMeta;
  const { tensors } = decodeSafetensors(Deno.readFileSync(new URL("r50_fpn.safetensors", DIR)), "r50_fpn.safetensors");
  cached = {
    meta,
    tensors,
    get(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`The torchvision fixture has no tensor "${name}"`);
      return t;
    },
  };
  return cached;
}

/**
 * The fixture's summary of a tensor (sums over every axis but one, every k-th element) computed
 * the same way from `data` of shape `shape`, in float64.
 */
export function summarize(
  data: ArrayLike<number>,
  shape: readonly number[],
  s: { stride: number; axis: number },
): { sums: Float64Array; strided: Float64Array } {
  const inner = shape.slice(s.axis + 1).reduce((a, b) => a * b, 1), n = shape[s.axis];
  const sums = new Float64Array(n);
  for (let i = 0; i < data.length; i++) sums[Math.floor(i / inner) % n] += data[i];
  const strided = new Float64Array(Math.ceil(data.length / s.stride));
  for (let k = 0; k < strided.length; k++) strided[k] = data[k * s.stride];
  return { sums, strided };
}

/**
 * Assert that `got` matches `want` within `tol` of want's largest magnitude (the parity
 * tests' rule for tensors: float32 sums in another order differ by a few ulps of the
 * largest terms, not of each element), naming the worst element.
 */
export function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = -1, worstErr = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= worstErr) || worst < 0) [worst, worstErr] = [i, err];
  }
  if (!(worstErr <= tol * scale)) {
    throw new Error(
      `${what}[${worst}] = ${got[worst]}, expected ${want[worst]}: error ${worstErr.toExponential(2)} > ` +
        `${tol} x ${scale.toExponential(3)}`,
    );
  }
}
