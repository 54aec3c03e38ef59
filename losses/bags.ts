/**
 * Balanced group softmax, BAGS (Li et al., CVPR 2020, "Overcoming Classifier
 * Imbalance for Long-tail Object Detection with Balanced Group Softmax"), as
 * a classification loss and its inference rule.
 *
 * Categories are grouped by their number of training instances; each group
 * gets its own softmax with an extra "others" class, so a frequent category
 * only suppresses the rare ones through "others", never directly.
 *
 * Following both the paper and the authors' code (FishYuLi/BalancedGroupSoftmax
 * at 90e04fd, `gs_bbox_head_with0.py`, `tools/lvis_analyse.py`):
 * - group 0 holds the background and one "others" class that stands for every
 *   foreground category;
 * - foreground groups by training instances n: [0, 10), [10, 100),
 *   [100, 1000), [1000, inf) by default (`group_bounds: [10, 100, 1000]`; the
 *   issue's "1-10, 11-100, ..." is this split), each with its own "others";
 * - a RoI's target in a group is its category if the category belongs there,
 *   else that group's "others" (background RoIs are "others" in every
 *   foreground group);
 * - the loss is the sum over groups of each group's cross-entropy;
 * - at test time, a category's score is its probability within its group
 *   times group 0's "others" probability (the foreground probability); the
 *   background column holds group 0's background probability.
 *
 * Where the paper leaves it open, the code decides:
 * - "others" rows are sub-sampled in each foreground group with a group
 *   member: floor(members x `others_sample_ratio`) of them (8 by default),
 *   drawn without replacement, or all of them when there are not that many;
 *   a group without members in the batch contributes nothing; group 0 is not
 *   sub-sampled;
 * - each group's cross-entropy is averaged over its sampled rows (at least 1),
 *   and `avgFactor` is ignored;
 * - groups come from instance counts (LVIS `instance_count`), not image counts.
 *
 * Where tailor differs from the code, the results do not:
 * - columns: categories first in their own order, then the background, group
 *   0's "others", and each foreground group's "others" (C + 2 + G columns), so
 *   the first C + 1 columns line up with the other losses' layouts; the code
 *   orders columns group by group;
 * - a foreground group with no category (the code keeps a lone "others"
 *   column, which has no loss, gradient or score) is left out;
 * - the sub-sampling draws from the loss's own seeded generator (checkpointed
 *   with its state), not numpy's.
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
  /** Instance counts where a new foreground group starts. */
  group_bounds: z.array(z.number().int().positive()).min(1).max(MAX_GROUPS - 1).default([10, 100, 1000])
    .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]), { message: "expected strictly increasing bounds" }),
  /** "Others" rows kept per member row of a foreground group. */
  others_sample_ratio: z.number().positive().finite().default(8),
  /** Seed of the "others" sub-sampling. */
  seed: z.number().int().min(0).default(0),
});
type Params = z.output<typeof params>;

/** The groups of a BAGS classifier and its column layout. */
export interface BagsGroups {
  /** C, foreground categories. */
  numClasses: number;
  /** G, foreground groups with at least one category; groups are 0 (background) and 1 .. G. */
  groups: number;
  /** Logit columns: C + 2 + G. */
  columns: number;
  /**
   * The group of each column: categories 1 .. G; the background (column C) and group 0's
   * "others" (C + 1) 0; group g's "others" is column C + 1 + g.
   */
  groupOf: Int32Array;
  /** Instance counts [from, to) of each foreground group 1 .. G (index g - 1). */
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
 * Which rows count in each group this step, as the authors' code samples them: [rows, G + 1]
 * of 0 or 1. Group 0 takes every row; a foreground group its members and floor(members x
 * ratio) of the other rows drawn without replacement (all of them if there are not that many),
 * or no row when it has no member.
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

/**
 * One float64 step with given masks (from `bagsMasks`): the summed group cross-entropies, the
 * gradient, the masks as per-element weights and the categories' gradient statistics.
 */
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

/** The columns of each group 0 .. G. */
function _columnsOfGroups(g: BagsGroups): number[][] {
  const members = Array.from({ length: g.groups + 1 }, () => [] as number[]);
  g.groupOf.forEach((k, j) => members[k].push(j));
  return members;
}

/**
 * Layout of the `Cum` buffer the host writes each step (f32): each column's group (padded to
 * `p`, a whole number of vec4s), each group's loss scale (padded to `q`), then each row's group
 * masks (`q` per row).
 */
function _inputsLayout(g: BagsGroups) {
  return { p: 4 * Math.ceil(g.columns / 4), q: 4 * Math.ceil((g.groups + 1) / 4) };
}

/** `x`, `y`, `z` or `w` for component k. */
const FIELD = ["x", "y", "z", "w"];

/**
 * The row pass: one walk over the row keeps an online max, sum and sum without the target per
 * group (one vec4 exp per 4 columns, at each lane's own group max), then leaves per group
 * (max, mask / sum, -mask x sum without the target / sum, mask x its -log p of the target) and
 * the label's group.
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

/**
 * The fused pass: each element reads its own group's row constants (a gather, one load per
 * element, where picking from every group's would load them all), so d = mask (p - t), the
 * gradient scale_g d, the loss scale_g mask (-log p_t) at targets.
 */
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

/** Where each step's group masks come from: the seeded sampler, or (tests) given ones. */
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
 * The BAGS rule for `SoftmaxLoss` and `softmaxReference`, from its groups and where its masks
 * come from.
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

/**
 * The `bags` loss: `createLoss("bags", ...)`; the training set fills in `instance_counts`.
 *
 * @example
 * ```ts
 * const loss = createLoss("bags", { instance_counts: [3, 250, 12, 4000] }, { numClasses: 4 });
 * loss.columns; // 4 + 2 + 4: categories, background, group 0's "others", one "others" per group
 * const { grad } = loss.forward(logits, Int32Array.from([0, 4, 3])); // host labels: rows are sampled
 * const scores = loss.scores(logits); // [N, 5]: in-group probability x foreground, then background
 * ```
 */
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
