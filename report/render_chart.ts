// vega-lite to SVG (vega, headless) and PNG (resvg): no browser, no canvas.
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vl from "vega-lite";

export interface RenderedChart {
  svg: string;
  png: Uint8Array;
}

/** The PNG is drawn at `scale` times the SVG size. */
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
