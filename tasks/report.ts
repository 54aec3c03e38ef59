/** The `report` stage: one HTML page with PNG figures comparing runs; AP in percent everywhere. */
import { join } from "node:path";
import { z } from "zod";
import { inputFile, inputFolder } from "../pipeline/input_path.ts";
import { writeFileAtomic } from "../core/atomic.ts";
import { defineStage, type StageContext } from "../pipeline/stage.ts";
import { EXHAUSTIVE_RULE, FREQUENCY_RULE } from "../data/dataset_notes.ts";
import { drawSampleDetections } from "../report/sample_detections.ts";
import {
  apByFrequencySpec,
  apRareVsApSpec,
  apVsImagesSpec,
  gradientRatioSpec,
  lossCurvesSpec,
} from "../report/figure_specs.ts";
import { renderChart } from "../report/render_chart.ts";
import { reportHtml } from "../report/report_html.ts";
import { readCategoryStats, readGradStats, readMetrics, readTrainLog } from "../report/report_inputs.ts";
import { summaryTable } from "../report/summary_table.ts";

const runSchema = z.strictObject({
  name: z.string().min(1),
  metrics: inputFile(),
  segmMetrics: inputFile().optional(),
  trainLog: inputFile().optional(),
  gradStats: inputFile().optional(),
  detections: inputFile().optional(),
  /** Runs of several seeds share one: APr against AP is drawn per method. */
  method: z.string().min(1).optional(),
});

export const reportParams = z.strictObject({
  title: z.string().default("tailor report"),
  runs: z.array(runSchema).min(1),
  trainAnnotations: inputFile().optional(),
  images: z.strictObject({
    annotations: inputFile(),
    folder: inputFolder(),
    count: z.int().min(1).default(3),
    minScore: z.number().min(0).max(1).default(0.3),
    maxPerImage: z.int().min(1).default(20),
  }).optional(),
});

export const reportOutput = z.object({
  html: z.string(),
  figures: z.array(z.string()),
  summary: z.string().optional(),
});

/**
 * @example
 * ```ts
 * const out = await writeReport(reportParams.parse({ runs: [{ name: "bce", metrics: "metrics.json" }] }), "out");
 * out.html; // "out/index.html"
 * ```
 */
export async function writeReport(
  params: z.infer<typeof reportParams>,
  outDir: string,
  log: (m: string) => void = () => {},
  onProgress: StageContext["progress"] = () => {},
): Promise<z.infer<typeof reportOutput>> {
  const progress = (done: number, total: number, what: string) => onProgress(done, total, what, "report");
  await Deno.mkdir(outDir, { recursive: true });
  const runs = await Promise.all(params.runs.map(async (r) => ({
    ...r,
    loaded: await readMetrics(r.metrics),
    segm: r.segmMetrics ? await readMetrics(r.segmMetrics) : undefined,
    log: r.trainLog ? await readTrainLog(r.trainLog) : undefined,
    grad: r.gradStats ? await readGradStats(r.gradStats) : undefined,
  })));
  const categories = params.trainAnnotations ? await readCategoryStats(params.trainAnnotations) : undefined;
  const notes: string[] = [];
  if (categories?.some((c) => c.derived)) {
    notes.push(
      `The training annotations have no category frequency: each category's group comes from its training images (${FREQUENCY_RULE}).`,
    );
  }
  if (params.images && await _assumesExhaustive(params.images.annotations)) {
    notes.push(
      `The evaluated ground truth has no neg_category_ids or not_exhaustive_category_ids: ${EXHAUSTIVE_RULE}.`,
    );
  }
  const charts: { file: string; caption: string; spec: Parameters<typeof renderChart>[0] }[] = [];
  const withMetrics = runs.map((r) => ({ name: r.name, metrics: r.loaded, segm: r.segm }));
  const withSegm = runs.filter((r) => r.segm).map((r) => ({ name: r.name, metrics: r.segm! }));
  const byFrequency = withSegm.length ? "Mask AP and box AP by frequency group" : "AP by frequency group";
  charts.push({ file: "ap_by_frequency.png", caption: byFrequency, spec: apByFrequencySpec(withMetrics) });
  if (categories) {
    if (withSegm.length) {
      const spec = apVsImagesSpec(withSegm, categories, "mask");
      charts.push({ file: "mask_ap_vs_images.png", caption: "Per-category mask AP against training images", spec });
    }
    const spec = apVsImagesSpec(withMetrics, categories, withSegm.length ? "box" : "");
    const caption = `Per-category ${withSegm.length ? "box " : ""}AP against training images`;
    charts.push({ file: "ap_vs_images.png", caption, spec });
  } else notes.push("No trainAnnotations given: per-category AP against training images is not drawn.");
  const withGrad = runs.filter((r) => r.grad).map((r) => ({ name: r.name, grad: r.grad! }));
  if (withGrad.length) {
    const spec = gradientRatioSpec(withGrad, categories ?? _categoriesFromMetrics(runs[0].loaded));
    charts.push({ file: "gradient_ratio.png", caption: "Positive / negative gradient ratio per category", spec });
  } else notes.push("No gradStats given: the gradient ratio figure is not drawn.");
  const withLog = runs.filter((r) => r.log?.length).map((r) => ({ name: r.name, log: r.log! }));
  if (withLog.length) charts.push({ file: "loss_curves.png", caption: "Training loss", spec: lossCurvesSpec(withLog) });
  else notes.push("No trainLog given: loss curves are not drawn.");
  if (runs.some((r) => r.method)) {
    const spec = apRareVsApSpec(runs.map((r) => ({ name: r.name, method: r.method ?? r.name, metrics: r.loaded })));
    charts.push({ file: "apr_vs_ap.png", caption: "APr against AP per method", spec });
  }

  for (const [i, chart] of charts.entries()) {
    progress(i, charts.length, chart.file);
    const { png } = await renderChart(chart.spec);
    await writeFileAtomic(join(outDir, chart.file), png);
    log(`figure ${chart.file}`);
  }
  progress(charts.length, charts.length, "figures");
  const withDets = params.runs.filter((r) => r.detections).map((r) => ({ name: r.name, results: r.detections! }));
  const detections = params.images && withDets.length
    ? await drawSampleDetections(params.images, withDets, outDir)
    : [];
  if (!detections.length) notes.push("No images or detections given: no detections are drawn.");
  const html = reportHtml({
    title: params.title,
    runs: runs.map((r) => ({ name: r.name, results: r.loaded.results, segm: r.segm?.results })),
    figures: charts.map(({ file, caption }) => ({ file, caption })),
    detections,
    notes,
  });
  const htmlPath = join(outDir, "index.html");
  await writeFileAtomic(htmlPath, html);
  const summary = join(outDir, "summary.txt");
  const table = summaryTable(runs.map((r) => ({ name: r.name, box: r.loaded.results, mask: r.segm?.results })));
  await writeFileAtomic(summary, `${table}\n`);
  return { html: htmlPath, figures: [...charts, ...detections].map((f) => join(outDir, f.file)), summary };
}

/** A COCO file lacks LVIS's per-image label lists. */
async function _assumesExhaustive(path: string): Promise<boolean> {
  let images: Record<string, unknown>[];
  try {
    images = (JSON.parse(await Deno.readTextFile(path)) as { images?: Record<string, unknown>[] }).images ?? [];
  } catch {
    return false; // Drawing the samples reads it again and names what is wrong.
  }
  return images.length > 0 && images.every((im) => !im?.neg_category_ids && !im?.not_exhaustive_category_ids);
}

function _categoriesFromMetrics(metrics: { per_category?: { id: number; frequency?: string }[] }) {
  return (metrics.per_category ?? []).map((c) => ({
    id: c.id,
    name: String(c.id),
    frequency: c.frequency ?? "?",
    imageCount: 0,
  }));
}

export const reportStage = defineStage({
  kind: "report",
  description: "HTML report comparing runs: mask and box AP, AP vs training images, gradient ratio, losses, detections",
  params: reportParams,
  output: reportOutput,
  run: (params, ctx) => writeReport(params, ctx.outDir, ctx.log, ctx.progress),
});
