import assert from "node:assert/strict";
import { join } from "node:path";
import { reportParams, writeReport } from "../../tasks/report.ts";
import { makeFakeRuns } from "./_fake_runs.ts";
import { notRunName } from "../_run.ts";

function findChromium(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
      try {
        if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
      } catch {
        // Not in this folder.
      }
    }
  }
}

const chromium = findChromium();

// The check runs in the page after load and writes what the browser saw into the DOM for --dump-dom.
const CHECK = `<script>
window.addEventListener("load", () => {
  const images = [...document.images].map((i) => ({ src: i.getAttribute("src"), w: i.naturalWidth, ok: i.complete }));
  const rows = document.querySelectorAll("tbody tr").length;
  const out = document.createElement("pre");
  out.id = "check";
  out.textContent = JSON.stringify({ images, rows });
  document.body.append(out);
});
</script>`;

Deno.test({
  name: chromium
    ? "the report page loads every figure in headless chromium"
    : notRunName("the report page loads every figure in headless chromium", "no chromium on PATH; install chromium"),
  ignore: !chromium,
  async fn() {
    const fake = await makeFakeRuns(["bce", "eqlv2", "eql"]);
    const out = join(fake.dir, "out");
    const result = await writeReport(
      reportParams.parse({
        runs: fake.runs,
        trainAnnotations: fake.trainAnnotations,
        images: { ...fake.images, count: 1 },
      }),
      out,
    );
    const page = join(out, "check.html");
    await Deno.writeTextFile(page, (await Deno.readTextFile(result.html)).replace("</body>", `${CHECK}\n</body>`));
    const { stdout, stderr, success } = await new Deno.Command(chromium!, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        `--user-data-dir=${join(fake.dir, "profile")}`,
        "--virtual-time-budget=5000",
        "--dump-dom",
        `file://${page}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dom = new TextDecoder().decode(stdout);
    assert.ok(success, new TextDecoder().decode(stderr).slice(-2000));
    const match = dom.match(/<pre id="check">(.*?)<\/pre>/s);
    assert.ok(match, `no check output in the dumped DOM: ${dom.slice(0, 500)}`);
    const seen = JSON.parse(match[1].replace(/&quot;/g, '"').replace(/&amp;/g, "&"));
    assert.equal(seen.rows, 3);
    assert.deepEqual(seen.images.map((i: { src: string }) => join(out, i.src)), result.figures);
    for (const image of seen.images) assert.ok(image.ok && image.w > 0, `${image.src} did not load`);
    await Deno.remove(fake.dir, { recursive: true });
  },
});
