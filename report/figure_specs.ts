// The report's charts as vega-lite specs, from plain rows, so each can be checked without rendering.
import type { TopLevelSpec } from "vega-lite";
import type { CategoryStats, GradStats, Metrics, TrainLogLine } from "./report_inputs.ts";

const GROUPS = [["AP", "all"], ["APr", "rare"], ["APc", "common"], ["APf", "frequent"]] as const;
const WIDTH = 520;
const HEIGHT = 280;

export interface RunMetrics {
  name: string;
  metrics: Metrics;
  segm?: Metrics;
}

/** AP overall and per frequency group, one bar per run; mask and box AP side by side where masks exist. */
export function apByFrequencySpec(runs: RunMetrics[]): TopLevelSpec {
  const withMasks = runs.some((r) => r.segm);
  const rows = (r: RunMetrics, m: Metrics, kind: string) =>
    GROUPS.filter(([key]) => (m.results[key] ?? -1) >= 0)
      .map(([key, group]) => ({ run: r.name, group, AP: 100 * m.results[key], ...(withMasks ? { kind } : {}) }));
  const values = runs.flatMap((r) => [...(r.segm ? rows(r, r.segm, "mask AP") : []), ...rows(r, r.metrics, "box AP")]);
  return {
    title: withMasks ? "Mask and box AP by frequency group" : "AP by frequency group",
    width: withMasks ? WIDTH / 2 : WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: { field: "group", type: "nominal", sort: GROUPS.map(([, g]) => g), title: null },
      xOffset: { field: "run", type: "nominal" },
      y: { field: "AP", type: "quantitative", title: "AP (%)" },
      color: { field: "run", type: "nominal" },
      ...(withMasks ? { column: { field: "kind", type: "nominal", sort: ["mask AP", "box AP"], title: null } } : {}),
    },
  };
}

export function apVsImagesSpec(
  runs: { name: string; metrics: Metrics }[],
  categories: CategoryStats[],
  kind = "",
): TopLevelSpec {
  const byId = new Map(categories.map((c) => [c.id, c]));
  const values = runs.flatMap((r) =>
    (r.metrics.per_category ?? []).filter((c) => c.AP >= 0 && (byId.get(c.id)?.imageCount ?? 0) > 0).map((c) => ({
      run: r.name,
      category: byId.get(c.id)!.name,
      frequency: byId.get(c.id)!.frequency,
      images: byId.get(c.id)!.imageCount,
      AP: 100 * c.AP,
    }))
  );
  return {
    title: `Per-category ${kind ? kind + " " : ""}AP against training images`,
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: "point", filled: true, opacity: 0.7, tooltip: true },
    encoding: {
      x: { field: "images", type: "quantitative", scale: { type: "log" }, title: "training images with the category" },
      y: { field: "AP", type: "quantitative", title: `${kind ? kind + " " : ""}AP (%)` },
      color: { field: "run", type: "nominal" },
      shape: { field: "frequency", type: "nominal", sort: ["r", "c", "f"] },
    },
  };
}

/** Positive / negative gradient per category, sorted by training images: the EQL v2 paper's figure. */
export function gradientRatioSpec(
  runs: { name: string; grad: GradStats }[],
  categories: CategoryStats[],
): TopLevelSpec {
  const order = [...categories].sort((a, b) => b.imageCount - a.imageCount || a.id - b.id);
  const rankOf = new Map(order.map((c, i) => [c.id, i]));
  const idsInFileOrder = [...categories].sort((a, b) => a.id - b.id).map((c) => c.id);
  const values = runs.flatMap((r) =>
    r.grad.pos_grad.flatMap((pos, i) => {
      const neg = r.grad.neg_grad[i];
      const id = idsInFileOrder[i];
      // A log scale cannot show a zero ratio (no positives yet): such categories are left out.
      if (!(neg > 0) || !(pos > 0)) return [];
      return [{
        run: r.name === r.grad.loss ? r.name : `${r.name} (${r.grad.loss})`,
        rank: rankOf.get(id) ?? i,
        ratio: pos / neg,
      }];
    })
  );
  return {
    title: "Positive / negative gradient ratio per category",
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: "line", point: { size: 12 }, tooltip: true },
    encoding: {
      x: { field: "rank", type: "quantitative", title: "category index, by training images (most first)" },
      y: {
        field: "ratio",
        type: "quantitative",
        scale: { type: "log" },
        title: "accumulated positive / negative gradient",
      },
      color: { field: "run", type: "nominal" },
    },
  };
}

export function lossCurvesSpec(runs: { name: string; log: TrainLogLine[] }[]): TopLevelSpec {
  const values = runs.flatMap((r) =>
    r.log.flatMap((line) =>
      Object.entries(line.loss).filter(([, v]) => Number.isFinite(v)).map(([component, loss]) => ({
        run: r.name,
        step: line.step,
        component,
        loss,
      }))
    )
  );
  return {
    title: "Training loss",
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: "line", tooltip: true },
    encoding: {
      x: { field: "step", type: "quantitative" },
      y: { field: "loss", type: "quantitative" },
      color: { field: "run", type: "nominal" },
      strokeDash: { field: "component", type: "nominal" },
    },
  };
}

/** APr against AP: a point per run and a mean per method (the EQL v2 paper's end-to-end vs decoupled). */
export function apRareVsApSpec(runs: { name: string; method: string; metrics: Metrics }[]): TopLevelSpec {
  const values = runs.filter((r) => (r.metrics.results.AP ?? -1) >= 0 && (r.metrics.results.APr ?? -1) >= 0)
    .map((r) => ({ run: r.name, method: r.method, AP: 100 * r.metrics.results.AP, APr: 100 * r.metrics.results.APr }));
  const mean = (field: string, title: string) => ({
    aggregate: "mean" as const,
    field,
    type: "quantitative" as const,
    title,
    scale: { zero: false },
  });
  const color = { field: "method", type: "nominal" as const };
  return {
    title: "APr against AP per method",
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    layer: [
      {
        mark: { type: "point", opacity: 0.45, tooltip: true },
        encoding: {
          x: { field: "AP", type: "quantitative", title: "AP (%)", scale: { zero: false } },
          y: { field: "APr", type: "quantitative", title: "APr (%)", scale: { zero: false } },
          color,
        },
      },
      {
        mark: { type: "point", filled: true, size: 120 },
        encoding: { x: mean("AP", "AP (%)"), y: mean("APr", "APr (%)"), color },
      },
      {
        mark: { type: "text", align: "left", dx: 8, dy: -6 },
        encoding: { x: mean("AP", "AP (%)"), y: mean("APr", "APr (%)"), text: { field: "method" }, color },
      },
    ],
  };
}
