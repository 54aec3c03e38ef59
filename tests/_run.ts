/**
 * The README's test command: runs the `deno test` command line it is given,
 * passes its output through, and then says how many tests were ignored and
 * why, so that a machine without a WebGPU adapter (or without Chromium)
 * ends with "N GPU tests not run: ..." instead of a plain "ok". Tests say
 * why they are ignored with NOT_RUN in their name (`gpuTest` does). Exits
 * with the test run's status; `.ci/run` also fails when anything was not run.
 *
 * @example
 * ```sh
 * deno run --allow-run=deno tests/_run.ts deno test --allow-read tests/
 * ```
 */

/** What an ignored test's name ends with: `${name} [not run: reason]`. */
export const NOT_RUN = "[not run:";

/** The name of a test that is ignored for `reason`. */
export function notRunName(name: string, reason: string): string {
  return `${name} ${NOT_RUN} ${reason}]`;
}

/** Counts of ignored tests by reason ("" for a test ignored without one), from deno test's report lines. */
export function ignoredByReason(lines: Iterable<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of lines) {
    // deno test: "./file.ts => name ... ignored (0ms)" with --parallel, "name ... ignored (0ms)" without.
    // deno-lint-ignore no-control-regex -- deno test's colour codes start with ESC
    const line = raw.replace(/\x1b\[[0-9;]*m/g, "");
    const m = line.match(/^(?:\S+ => )?(.*) \.\.\. ignored \(/);
    if (!m) continue;
    const name = m[1];
    const at = name.lastIndexOf(NOT_RUN);
    const reason = at < 0 ? "" : name.slice(at + NOT_RUN.length).replace(/\]$/, "").trim();
    const list = out.get(reason) ?? [];
    list.push(at < 0 ? name : name.slice(0, at).trim());
    out.set(reason, list);
  }
  return out;
}

/** The lines printed after the run: one per reason, naming the tests ignored without one. */
export function ignoredSummary(byReason: Map<string, string[]>): string[] {
  const lines: string[] = [];
  for (const [reason, names] of byReason) {
    const n = names.length, tests = n === 1 ? "test" : "tests";
    if (!reason) {
      lines.push(`${n} ${tests} ignored without a reason: ${names.map((s) => JSON.stringify(s)).join(", ")}`);
    } else if (/WebGPU adapter/.test(reason)) lines.push(`${n} GPU ${tests} not run: ${reason}`);
    else lines.push(`${n} ${tests} not run: ${reason}`);
  }
  return lines;
}

async function pump(src: ReadableStream<Uint8Array>, dst: { write(b: Uint8Array): Promise<number> }, keep: string[]) {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of src) {
    await dst.write(chunk);
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    keep.push(...lines);
  }
  if (pending) keep.push(pending);
}

if (import.meta.main) {
  const [cmd, ...args] = Deno.args;
  if (!cmd) {
    console.error("Usage: deno run --allow-run=deno tests/_run.ts deno test [flags] [paths]");
    Deno.exit(2);
  }
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
  const lines: string[] = [];
  const writer = (f: typeof Deno.stdout) => ({ write: (b: Uint8Array) => f.write(b) });
  await Promise.all([pump(child.stdout, writer(Deno.stdout), lines), pump(child.stderr, writer(Deno.stderr), lines)]);
  const { code } = await child.status;
  const summary = ignoredSummary(ignoredByReason(lines));
  if (summary.length > 0) console.log(`\n${summary.join("\n")}\nNot a full pass: the tests above did not run.`);
  Deno.exit(code);
}
