/**
 * Balanced group softmax, BAGS (Li et al., CVPR 2020), as the authors' code has it (FishYuLi/BalancedGroupSoftmax
 * at 90e04fd, `gs_bbox_head_with0.py`): group 0 is the background plus one "others" for all foreground; foreground
 * groups by training instances ([0, 10), [10, 100), [100, 1000), [1000, inf)), each with an "others"; loss: the sum
 * of the groups' CEs, each averaged over its rows, "others" rows sub-sampled (`others_sample_ratio`); score:
 * in-group probability x group 0's "others" probability. Deviations that leave results unchanged: columns are
 * categories, background, then the "others" (so the first C + 1 line up with other losses); empty groups are
 * dropped; sub-sampling uses the loss's own checkpointed generator, not numpy's.
 */
import { z } from "zod";
import { InputError, quote } from "../core/errors.ts";
import { Rng } from "../core/rng.ts";
import { vecTypes } from "../kernels/losses/row_blocks.ts";
import { rowConstant, rowWindow } from "../kernels/losses/softmax_fused.ts";
import { _logSumExp } from "./_math.ts";
import type { StepInput64, StepOutput64 } from "./loss.ts";
import { defineLoss, lossWeight } from "./loss_definition.ts";
import { softmaxReference } from "./reference_softmax.ts";
import { SoftmaxLoss } from "./softmax_loss.ts";
import type { SoftmaxRule } from "./softmax_rule.ts";

/** Foreground groups at most: the kernels' per-row work grows with the square of the groups. */
const MAX_GROUPS = 16;

const params = z.strictObject({
  loss_weight: lossWeight,
  /** Training instances of each category (length C), from the training set unless given. */
  instance_counts: z.array(z.number().int().min(0)),
  group_bounds: z.array(z.number().int().positive()).min(1).max(MAX_GROUPS - 1).default([10, 100, 1000])
    .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]), { message: "expected strictly increasing bounds" }),
  others_sample_ratio: z.number().positive().finite().default(8),
  seed: z.number().int().min(0).default(0),
});
type Params = z.output<typeof params>;

export interface BagsGroups {
  numClasses: number;
  /** G, foreground groups with at least one category; groups are 0 (background) and 1 .. G. */
  groups: number;
  columns: number;
  /** Each column's group: categories 1 .. G; background (C) and group 0's "others" (C + 1) 0; g's "others" C + 1 + g. */
  groupOf: Int32Array;
  ranges: [number, number][];
}

/**
 * Group categories by training instances: group k (counting empty ones) holds the counts in
 * [bounds[k - 1], bounds[k]); empty groups are dropped and the rest numbered 1 .. G.
 *
 * @example
 * ```ts
 * const g = bagsGroups([3, 250, 12, 4000], [10, 100, 1000]);
 * g.groups; // 4
 * Array.from(g.groupOf); // [1, 3, 2, 4, 0, 0, 1, 2, 3, 4]
 * ```
 */
export function bagsGroups(instanceCounts: ArrayLike<number>, bounds: readonly number[]): BagsGroups {
  const c = instanceCounts.length;
  const edges = [0, ...bounds, Infinity];
  const slot = (n: number) => edges.findIndex((e, k) => k > 0 && n < e) - 1;
  const used = [...new Set(Array.from(instanceCounts, slot))].sort((a, b) => a - b);
  const groups = used.length, columns = c + 2 + groups;
  const groupOf = new Int32Array(columns);
  for (let j = 0; j < c; j++) groupOf[j] = used.indexOf(slot(instanceCounts[j])) + 1;
  for (let g = 1; g <= groups; g++) groupOf[c + 1 + g] = g;
  return { numClasses: c, groups, columns, groupOf, ranges: used.map((k) => [edges[k], edges[k + 1]]) };
}

/**
 * Which rows count in each group this step, [rows, G + 1] of 0 or 1, as the authors' code samples them: group 0
 * every row; a foreground group with members those and floor(members x ratio) other rows without replacement.
 *
 * @example
 * ```ts
 * const masks = bagsMasks(Int32Array.from([0, 3, 4]), bagsGroups([5, 50, 500, 5000], [10, 100, 1000]), 1, new Rng(1));
 * ```
 */
export function bagsMasks(labels: ArrayLike<number>, g: BagsGroups, ratio: number, rng: Rng): Float64Array {
  const rows = labels.length, ng = g.groups + 1;
  const masks = new Float64Array(rows * ng);
  for (let i = 0; i < rows; i++) masks[i * ng] = 1;
  for (let k = 1; k < ng; k++) {
    const others: number[] = [];
    let members = 0;
    for (let i = 0; i < rows; i++) {
      if (g.groupOf[labels[i]] === k) {
        masks[i * ng + k] = 1;
        members++;
      } else others.push(i);
    }
    if (members === 0) continue;
    const take = Math.floor(members * ratio);
    // The first `take` places of a partial Fisher-Yates shuffle: a uniform draw without replacement.
    const n = Math.min(take, others.length);
    for (let t = 0; t < n; t++) {
      const u = t + rng.int(others.length - t);
      [others[t], others[u]] = [others[u], others[t]];
      masks[others[t] * ng + k] = 1;
    }
  }
  return masks;
}

/** One float64 step with given masks (from `bagsMasks`). */
export function bagsStep64(
  g: BagsGroups,
  input: StepInput64,
  masks: ArrayLike<number>,
  lossWeight: number,
): StepOutput64 {
  const { numClasses: c, columns: cols, groupOf } = g, ng = g.groups + 1;
  const x = input.logits, rows = input.labels.length;
  const members = _columnsOfGroups(g);
  const scale = Array.from({ length: ng }, (_, k) => {
    let n = 0;
    for (let i = 0; i < rows; i++) n += masks[i * ng + k];
    return lossWeight / Math.max(n, 1);
  });
  const grad = new Float64Array(rows * cols), weight = new Float64Array(rows * cols);
  const stepPos = new Float64Array(c), stepNeg = new Float64Array(c);
  const z = new Float64Array(cols);
  let loss = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * cols, label = input.labels[i], home = groupOf[label];
    for (let k = 0; k < ng; k++) {
      const cs = members[k], mask = masks[i * ng + k];
      cs.forEach((j, q) => z[q] = x[o + j]);
      const lse = _logSumExp(z, 0, cs.length);
      const target = home === k ? label : c + 1 + k;
      loss += scale[k] * mask * (lse - x[o + target]);
      for (const j of cs) {
        const d = mask * (Math.exp(x[o + j] - lse) - (j === target ? 1 : 0));
        grad[o + j] = scale[k] * d;
        weight[o + j] = mask;
        if (j < c) j === label ? (stepPos[j] += Math.abs(d)) : (stepNeg[j] += Math.abs(d));
      }
    }
  }
  return { loss, grad, weight, step_pos: stepPos, step_neg: stepNeg };
}

/** Float64 test-time scores [N, C + 1]: in-group probability x foreground probability, then the background's. */
export function bagsScores64(g: BagsGroups, logits: ArrayLike<number>): Float64Array {
  const { numClasses: c, columns: cols, groupOf } = g, ng = g.groups + 1;
  const rows = logits.length / cols, members = _columnsOfGroups(g);
  const out = new Float64Array(rows * (c + 1));
  const lse = new Float64Array(ng), z = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let k = 0; k < ng; k++) {
      members[k].forEach((j, q) => z[q] = logits[o + j]);
      lse[k] = _logSumExp(z, 0, members[k].length);
    }
    const fg = Math.exp(logits[o + c + 1] - lse[0]);
    for (let j = 0; j < c; j++) out[i * (c + 1) + j] = Math.exp(logits[o + j] - lse[groupOf[j]]) * fg;
    out[i * (c + 1) + c] = Math.exp(logits[o + c] - lse[0]);
  }
  return out;
}

function _columnsOfGroups(g: BagsGroups): number[][] {
  const members = Array.from({ length: g.groups + 1 }, () => [] as number[]);
  g.groupOf.forEach((k, j) => members[k].push(j));
  return members;
}

/** The host-written `Cum` buffer (f32): each column's group (padded to `p`, whole vec4s), each group's loss
 * scale (padded to `q`), then each row's group masks (`q` per row). */
function _inputsLayout(g: BagsGroups) {
  return { p: 4 * Math.ceil(g.columns / 4), q: 4 * Math.ceil((g.groups + 1) / 4) };
}

const FIELD = ["x", "y", "z", "w"];

/**
 * The row pass: one walk keeps per group an online max, sum and sum without the target (one vec4 exp per 4
 * columns, at each lane's own group max), then leaves per group (max, mask / sum, -mask so / sum, mask (-log p_t)).
 */
function rowPass(g: BagsGroups): SoftmaxRule["rowPass"] {
  const { numClasses: c, columns: cols } = g, ng = g.groups + 1;
  const { p, q } = _inputsLayout(g);
  const window = rowWindow(cols, "prev");
  const each = (f: (k: number) => string, sep = "\n    ") => Array.from({ length: ng }, (_, k) => f(k)).join(sep);
  const is = (k: number) => `gv == vec4<u32>(${k}u)`;
  let laneMax = `vec4<f32>(mn${ng - 1})`;
  for (let k = ng - 2; k >= 0; k--) laneMax = `select(${laneMax}, vec4<f32>(mn${k}), ${is(k)})`;
  return {
    decls: "",
    body: `let lg = u32(Cum[lab / 4u][lab % 4u]);
  ${each((k) => `var m${k} = -3.4e38; var s${k} = 0.0; var so${k} = 0.0;`, "\n  ")}
  ${window.init}
  for (var q = 0u; q < ${Math.ceil(cols / 4)}u; q++) {
    ${window.load}
    let jv = vec4<u32>(q * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
    let gv = vec4<u32>(Cum[q]);
    // Lanes past the row (the next row's, or past the buffer) are masked before any arithmetic.
    let valid = jv < vec4<u32>(${cols}u);
    // A group's target: the label's column, or the group's "others" where the label is elsewhere.
    let tv = (jv == vec4<u32>(lab)) | ((jv == gv + vec4<u32>(${c + 1}u)) & (gv != vec4<u32>(lg)));
    ${
      each((k) =>
        `let z${k} = select(vec4<f32>(-3.4e38), x, valid & (${is(k)}));
    let mn${k} = max(m${k}, max(max(z${k}.x, z${k}.y), max(z${k}.z, z${k}.w)));`
      )
    }
    let e = select(vec4<f32>(0.0), exp(x - ${laneMax}), valid);
    ${
      each((k) =>
        `let e${k} = select(vec4<f32>(0.0), e, ${is(k)});
    let r${k} = exp(m${k} - mn${k});
    s${k} = s${k} * r${k} + dot(e${k}, vec4<f32>(1.0));
    so${k} = so${k} * r${k} + dot(select(e${k}, vec4<f32>(0.0), tv), vec4<f32>(1.0));
    m${k} = mn${k};`
      )
    }
  }
  ${
      Array.from({ length: q / 4 }, (_, v) => `let mk${v} = Cum[${(p + q) / 4}u + i * ${q / 4}u + ${v}u];`).join(
        "\n  ",
      )
    }
  ${
      each((k) => {
        const mk = `mk${k >> 2}.${FIELD[k & 3]}`;
        return `R[i * ${ng + 1}u + ${k}u] = vec4<f32>(m${k}, ${mk} / s${k}, -${mk} * so${k} / s${k},
    ${mk} * nll(xs(o + select(${c + 1 + k}u, lab, lg == ${k}u)), m${k}, s${k}, so${k}));`;
      }, "\n  ")
    }
  R[i * ${ng + 1}u + ${ng}u] = vec4<f32>(f32(lg), 0.0, 0.0, 0.0);`,
  };
}

/** The fused pass: each element gathers its own group's row constants (loading every group's would cost more). */
function fusedPass(g: BagsGroups, width: 1 | 4): ReturnType<SoftmaxRule["fusedPass"]> {
  const { numClasses: c, columns: cols } = g, ng = g.groups + 1;
  const { U, splat, gather } = vecTypes(width);
  const zero = splat("0.0"), one = splat("1.0");
  const lanes = width === 4 ? ["x", "y", "z", "w"] : [""];
  const at = (q: string) => (q ? `.${q}` : "");
  // The constants of each component's (row, group), then each field across the components.
  const loads = lanes.map((q, k) => `let c${k} = R[gi${at(q)}];`).join(" ");
  const field = (f: string) => (width === 4 ? `vec4<f32>(${lanes.map((_, k) => `c${k}.${f}`).join(", ")})` : `c0.${f}`);
  return {
    setup: `let gjf = ${gather("Cum", "jj")};
  let gj = ${U}(gjf);
  let gs = gj + ${U}(${_inputsLayout(g).p}u);
  let sg = ${gather("Cum", "gs")};
  let oth = jj == gj + ${U}(${c + 1}u);
  let gro = ro * ${U}(${ng + 1}u) + gj;`,
    body: `let gi = ${U}(i0 * ${ng + 1}u) + gro;
    ${loads}
    let gy = ${field("y")};
    let tgt = is_t | (oth & (gjf != ${rowConstant(cols, width, ng, "x")}));
    let d = select(exp(x - ${field("x")}) * gy, ${field("z")}, tgt);
    let grad = sg * d;
    let w = select(${zero}, ${one}, gy > ${zero});
    let l = select(${zero}, sg * ${field("w")}, tgt);
    let st = abs(d);`,
  };
}

/** The inference rule's WGSL: per-group max and sum, then in-group probability x foreground probability. */
function scoresWgsl(g: BagsGroups): string {
  const { numClasses: c, columns: cols } = g, ng = g.groups + 1;
  return `var mx: array<f32, ${ng}>; var sm: array<f32, ${ng}>;
  for (var k = 0u; k < ${ng}u; k++) { mx[k] = -3.4e38; sm[k] = 0.0; }
  let o = i * ${cols}u;
  for (var j = 0u; j < ${cols}u; j++) { let k = u32(K[j]); mx[k] = max(mx[k], X[o + j]); }
  for (var j = 0u; j < ${cols}u; j++) { let k = u32(K[j]); sm[k] += exp(X[o + j] - mx[k]); }
  let fg = exp(X[o + ${c + 1}u] - mx[0]) / sm[0];
  for (var j = 0u; j < ${c}u; j++) {
    let k = u32(K[j]);
    Y[i * ${c + 1}u + j] = exp(X[o + j] - mx[k]) / sm[k] * fg;
  }
  Y[i * ${c + 1}u + ${c}u] = exp(X[o + ${c}u] - mx[0]) / sm[0];`;
}

export interface BagsMaskSource {
  masks(labels: Int32Array): Float64Array;
  state?(): { rng: number[] };
  loadState?(state: { rng?: number[] }): void;
}

/** The seeded "others" sampler; its generator is part of the loss's checkpointed state. */
function _sampler(g: BagsGroups, p: Params): BagsMaskSource {
  let rng = new Rng(p.seed);
  return {
    masks: (labels) => bagsMasks(labels, g, p.others_sample_ratio, rng),
    state: () => ({ rng: Array.from(rng.state) }),
    loadState(state) {
      if (state.rng) rng = new Rng(Uint32Array.from(state.rng));
    },
  };
}

/**
 * The BAGS rule for `SoftmaxLoss` and `softmaxReference`, from its groups and where its masks come from.
 *
 * @example
 * ```ts
 * const g = bagsGroups(counts, [10, 100, 1000]);
 * const loss = new SoftmaxLoss(bagsRule(g, { lossWeight: 1, masks: { masks: (l) => bagsMasks(l, g, 8, new Rng(0)) } }));
 * ```
 */
export function bagsRule(g: BagsGroups, o: { lossWeight: number; masks: BagsMaskSource }): SoftmaxRule {
  const { numClasses: c, columns: cols } = g, ng = g.groups + 1;
  const { p, q } = _inputsLayout(g);
  const inputs = (rows: number) => {
    const data = new Float32Array(p + q + rows * q);
    data.set(g.groupOf);
    return data;
  };
  return {
    name: "bags",
    numClasses: c,
    columns: cols,
    lossWeight: o.lossWeight,
    countsLabels: false,
    takesAvgFactor: false,
    rowStride: 4 * (ng + 1),
    rowPass: rowPass(g),
    fusedPass: (width) => fusedPass(g, width),
    scores: { columns: c + 1, body: scoresWgsl(g), constants: true },
    stepInputs: {
      initial: inputs(0),
      forStep(labels) {
        const rows = labels.length, masks = o.masks.masks(labels), data = inputs(rows);
        for (let k = 0; k < ng; k++) {
          let n = 0;
          for (let i = 0; i < rows; i++) n += masks[i * ng + k];
          data[p + k] = o.lossWeight / Math.max(n, 1);
        }
        for (let i = 0; i < rows; i++) data.set(masks.subarray(i * ng, (i + 1) * ng), p + q + i * q);
        return data;
      },
      state: o.masks.state,
      loadState: o.masks.loadState,
    },
    step64: (_state, input) => bagsStep64(g, input, o.masks.masks(Int32Array.from(input.labels)), o.lossWeight),
    scores64: (logits) => bagsScores64(g, logits),
  };
}

function _rule(p: Params, numClasses: number): SoftmaxRule {
  if (p.instance_counts.length !== numClasses) {
    throw new InputError(
      `Invalid "instance_counts" of the bags loss: expected ${numClasses} counts (one per category), got ${
        quote(p.instance_counts.length)
      }`,
    );
  }
  const g = bagsGroups(p.instance_counts, p.group_bounds);
  return bagsRule(g, { lossWeight: p.loss_weight, masks: _sampler(g, p) });
}

/** The `bags` loss; the training set fills in `instance_counts`. */
export const bags = defineLoss({
  name: "bags",
  params,
  fromDataset: {
    keys: ["instance_counts"],
    complete: (raw, stats) =>
      raw.instance_counts === undefined ? { ...raw, instance_counts: stats.instanceCounts } : raw,
  },
  create: (p, c) => new SoftmaxLoss(_rule(p, c)),
  reference: (p, c) => softmaxReference(_rule(p, c)),
});
