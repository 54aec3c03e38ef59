/**
 * What the runner shows while stages run: bars on a terminal, and plain
 * timestamped lines (at most one progress line per stage every few seconds)
 * when output goes to a CI log.
 */
import cliProgress from "cli-progress";

/** Receives the runner's events. */
export interface ProgressReporter {
  line(text: string): void;
  stageStart(id: string): void;
  progress(id: string, done: number, total: number, info?: string): void;
  stageEnd(id: string): void;
  stop(): void;
}

/**
 * A reporter that writes plain lines to `write`.
 *
 * @example
 * ```ts
 * const r = plainReporter((s) => console.error(s));
 * r.line("train: start");
 * ```
 */
export function plainReporter(write: (text: string) => void, intervalMs = 10_000): ProgressReporter {
  const last = new Map<string, number>();
  const stamp = () => new Date().toISOString().slice(11, 19);
  return {
    line: (text) => write(`[${stamp()}] ${text}`),
    stageStart: (id) => last.set(id, Date.now()),
    progress(id, done, total, info) {
      const now = Date.now();
      if (now - (last.get(id) ?? 0) < intervalMs && done < total) return;
      last.set(id, now);
      const pct = total > 0 ? ` (${Math.round((100 * done) / total)}%)` : "";
      write(`[${stamp()}] ${id}: ${done}/${total}${pct}${info ? ` ${info}` : ""}`);
    },
    stageEnd: (id) => last.delete(id),
    stop: () => {},
  };
}

/** Bars for running stages on a terminal (stderr). */
export function terminalReporter(): ProgressReporter {
  const multi = new cliProgress.MultiBar({
    format: " {bar} {percentage}% | {value}/{total} | {id} {info}",
    hideCursor: true,
    clearOnComplete: true,
    stopOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    line: (text) => multi.log(text + "\n"),
    stageStart: (id) => bars.set(id, multi.create(1, 0, { id, info: "" })),
    progress(id, done, total, info) {
      const bar = bars.get(id);
      bar?.setTotal(Math.max(total, 1));
      bar?.update(done, { id, info: info ?? "" });
    },
    stageEnd(id) {
      const bar = bars.get(id);
      if (bar) multi.remove(bar);
      bars.delete(id);
    },
    stop: () => multi.stop(),
  };
}

/** Bars when stderr is a terminal, plain lines otherwise. */
export function defaultReporter(): ProgressReporter {
  return Deno.stderr.isTerminal() ? terminalReporter() : plainReporter((s) => console.error(s));
}
