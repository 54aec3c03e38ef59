// The report page: a self-contained HTML file next to its PNGs.

export interface ReportPage {
  title: string;
  /** Box metrics per run, and mask metrics (`segm`) where the run's masks were evaluated. */
  runs: { name: string; results: Record<string, number>; segm?: Record<string, number> }[];
  figures: { file: string; caption: string }[];
  detections: { file: string; caption: string }[];
  notes: string[];
}

const COLUMNS = ["AP", "AP50", "AP75", "APr", "APc", "APf", "APs", "APm", "APl", "AR@300"];
const SIDE_BY_SIDE = ["AP", "APr", "APc", "APf"];

/** A metric (a fraction) as a table cell in percent; -1 (no category with ground truth) is n/a. */
function _cell(v: number | undefined): string {
  return `<td>${v === undefined ? "" : v < 0 ? "n/a" : (100 * v).toFixed(1)}</td>`;
}

/** Figure files are relative to the page; with mask metrics, mask and box AP come first side by side. */
export function reportHtml(page: ReportPage): string {
  const table = (title: string, of: (r: ReportPage["runs"][number]) => Record<string, number> | undefined) => {
    const rows = page.runs.filter((r) => of(r)).map((r) =>
      `<tr><th>${_escape(r.name)}</th>${COLUMNS.map((c) => _cell(of(r)![c])).join("")}</tr>`
    ).join("\n");
    return `<h2>${title}</h2>
<table>
<thead><tr><th>run</th>${COLUMNS.map((c) => `<th>${c}</th>`).join("")}</tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  };
  const withMasks = page.runs.some((r) => r.segm);
  const sideBySide = withMasks
    ? `<h2>Mask AP and box AP (%)</h2>
<table class="side-by-side">
<thead><tr><th rowspan="2">run</th><th colspan="${SIDE_BY_SIDE.length}">mask</th><th colspan="${SIDE_BY_SIDE.length}">box</th></tr>
<tr>${[...SIDE_BY_SIDE, ...SIDE_BY_SIDE].map((c) => `<th>${c}</th>`).join("")}</tr></thead>
<tbody>
${
      page.runs.map((r) =>
        `<tr><th>${_escape(r.name)}</th>${SIDE_BY_SIDE.map((c) => _cell(r.segm?.[c])).join("")}${
          SIDE_BY_SIDE.map((c) => _cell(r.results[c])).join("")
        }</tr>`
      ).join("\n")
    }
</tbody>
</table>
`
    : "";
  const tables = sideBySide + table(withMasks ? "Box results (AP in %)" : "Results (AP in %)", (r) => r.results) +
    (withMasks ? "\n" + table("Mask results (AP in %)", (r) => r.segm) : "");
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
.side-by-side thead th { text-align: center; }
th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5rem; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
.detections figure img { max-width: 22rem; }
</style>
</head>
<body>
<h1>${_escape(page.title)}</h1>
${tables}
<h2>Figures</h2>
<section class="figures">
${page.figures.map(figure).join("\n")}
</section>
${
    page.detections.length
      ? `<h2>${withMasks ? "Detections and masks" : "Detections"}</h2>\n<section class="detections">\n${
        page.detections.map(figure).join("\n")
      }\n</section>`
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
