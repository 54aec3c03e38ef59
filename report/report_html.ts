/**
 * The report page: a metrics table per run and the figures, as one
 * self-contained HTML file next to its PNGs.
 */

/** What the page shows. */
export interface ReportPage {
  title: string;
  runs: { name: string; results: Record<string, number> }[];
  figures: { file: string; caption: string }[];
  detections: { file: string; caption: string }[];
  notes: string[];
}

const COLUMNS = ["AP", "AP50", "AP75", "APr", "APc", "APf", "APs", "APm", "APl", "AR@300"];

/**
 * Render the page; figure files are relative to the page.
 *
 * @example
 * ```ts
 * reportHtml({ title: "demo", runs: [], figures: [{ file: "loss.png", caption: "Loss" }], detections: [], notes: [] });
 * ```
 */
export function reportHtml(page: ReportPage): string {
  const head = COLUMNS.map((c) => `<th>${c}</th>`).join("");
  const rows = page.runs.map((r) => {
    const cells = COLUMNS.map((c) => {
      const v = r.results[c];
      return `<td>${v === undefined ? "" : v < 0 ? "n/a" : (100 * v).toFixed(1)}</td>`;
    }).join("");
    return `<tr><th>${_escape(r.name)}</th>${cells}</tr>`;
  }).join("\n");
  const figure = (f: { file: string; caption: string }) =>
    `<figure><img src="${_escape(f.file)}" alt="${_escape(f.caption)}"><figcaption>${
      _escape(f.caption)
    }</figcaption></figure>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${_escape(page.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #111; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5rem; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
.detections figure img { max-width: 22rem; }
</style>
</head>
<body>
<h1>${_escape(page.title)}</h1>
<h2>Results (AP in %)</h2>
<table>
<thead><tr><th>run</th>${head}</tr></thead>
<tbody>
${rows}
</tbody>
</table>
<h2>Figures</h2>
<section class="figures">
${page.figures.map(figure).join("\n")}
</section>
${
    page.detections.length
      ? `<h2>Detections</h2>\n<section class="detections">\n${page.detections.map(figure).join("\n")}\n</section>`
      : ""
  }
${page.notes.length ? `<h2>Notes</h2>\n<ul>${page.notes.map((n) => `<li>${_escape(n)}</li>`).join("")}</ul>` : ""}
</body>
</html>
`;
}

function _escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
