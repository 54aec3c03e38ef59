/**
 * Render a vega-lite spec to SVG (vega, headless) and PNG (resvg), with no
 * browser and no canvas.
 */
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vl from "vega-lite";

/** A rendered chart. */
export interface RenderedChart {
  svg: string;
  png: Uint8Array;
}

/**
 * Compile and render a vega-lite spec; the PNG is drawn at `scale` times the SVG size.
 *
 * @example
 * ```ts
 * const { png } = await renderChart({ data: { values: [{ x: 1, y: 2 }] }, mark: "point",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } } });
 * ```
 */
export async function renderChart(spec: vl.TopLevelSpec, scale = 2): Promise<RenderedChart> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  }).render().asPng();
  return { svg, png: new Uint8Array(png) };
}
