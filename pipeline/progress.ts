// Terminal: a bar per running stage; CI log: dated lines, at most one per stage every few seconds.
import cliProgress from "cli-progress";
import { STDERR_TTY } from "../core/stderr_filter.ts";

export interface ProgressReporter {
  line(text: string): void;
  stageStart(id: string): void;
  /**
   * `done` of `total` in the stage's current `phase` (compile, ingest, train, predict, eval, report...);
   * a total of 0 is work of unknown size (kernels compiled so far).
   */
  progress(id: string, done: number, total: number, info?: string, phase?: string): void;
  stageEnd(id: string): void;
  stop(): void;
}

/** Seconds left at the rate since the phase started; undefined before there is a rate. */
export function etaSeconds({ done, total, elapsedSeconds }: {
  done: number;
  total: number;
  elapsedSeconds: number;
}): number | undefined {
  if (total <= 0 || done <= 0 || elapsedSeconds < 1) return undefined;
  return Math.max(0, (elapsedSeconds * (total - done)) / done);
}

/** `45s`, `3m05s` or `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export type Clock = () => number;

class _Phases {
  readonly #at = new Map<string, { phase: string; startMs: number; lastLineMs: number }>();
  constructor(private readonly now: Clock) {}

  enter(id: string, phase: string): { phase: string; startMs: number; lastLineMs: number; changed: boolean } {
    const cur = this.#at.get(id);
    if (cur && cur.phase === phase) return { ...cur, changed: false };
    const next = { phase, startMs: this.now(), lastLineMs: -Infinity };
    this.#at.set(id, next);
    return { ...next, changed: cur !== undefined };
  }

  touch(id: string, ms: number): void {
    const cur = this.#at.get(id);
    if (cur) cur.lastLineMs = ms;
  }

  delete(id: string): void {
    this.#at.delete(id);
  }
}

function _amount(done: number, total: number, etaS: number | undefined): string {
  if (total <= 0) return `${done} so far`;
  const pct = Math.min(100, Math.floor((100 * done) / total));
  return `${pct}% (${done}/${total})${etaS === undefined || done >= total ? "" : `, ${formatDuration(etaS)} left`}`;
}

function _stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** Dated lines: at most one per stage every `intervalMs`, plus the last of each phase. */
export function plainReporter(
  write: (text: string) => void,
  intervalMs = 10_000,
  now: Clock = Date.now,
): ProgressReporter {
  const phases = new _Phases(now);
  return {
    line: (text) => write(`[${_stamp(now())}] ${text}`),
    stageStart: (id) => phases.enter(id, ""),
    progress(id, done, total, info, phase = "") {
      const p = phases.enter(id, phase);
      const t = now();
      const finished = total > 0 && done >= total;
      if (!p.changed && !finished && t - p.lastLineMs < intervalMs) return;
      phases.touch(id, t);
      const eta = etaSeconds({ done, total, elapsedSeconds: (t - p.startMs) / 1000 });
      write(`[${_stamp(t)}] ${id}: ${phase ? `${phase} ` : ""}${_amount(done, total, eta)}${info ? `: ${info}` : ""}`);
    },
    stageEnd: (id) => phases.delete(id),
    stop: () => {},
  };
}

/** Bars on `stream`, by default stderr taken as a terminal (the parent's, when it filters ours). */
export function terminalReporter(
  now: Clock = Date.now,
  stream: NodeJS.WritableStream = _stderrAsTerminal(),
): ProgressReporter {
  const multi = new cliProgress.MultiBar({
    format: " {bar} {amount} | {id} {phase}{info}",
    hideCursor: true,
    clearOnComplete: true,
    stopOnComplete: false,
    barsize: 24,
    stream,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  const phases = new _Phases(now);
  let lastDrawMs = 0;
  return {
    line: (text) => multi.log(text + "\n"),
    stageStart(id) {
      phases.enter(id, "");
      bars.set(id, multi.create(1, 0, { id, phase: "", info: "", amount: "" }));
    },
    progress(id, done, total, info, phase = "") {
      const p = phases.enter(id, phase);
      const eta = etaSeconds({ done, total, elapsedSeconds: (now() - p.startMs) / 1000 });
      const bar = bars.get(id);
      // Work of unknown size shows an empty bar and a running count.
      bar?.setTotal(Math.max(total, 1));
      bar?.update(total > 0 ? done : 0, {
        id,
        phase: phase ? `${phase} ` : "",
        info: info ? `| ${info}` : "",
        amount: _amount(done, total, eta),
      });
      // The bars redraw on a timer, which a long synchronous GPU submit (a kernel compiling) holds up.
      if (now() - lastDrawMs > 250) {
        lastDrawMs = now();
        (multi as unknown as { update(): void }).update();
      }
    },
    stageEnd(id) {
      const bar = bars.get(id);
      if (bar) multi.remove(bar);
      bars.delete(id);
      phases.delete(id);
    },
    stop: () => multi.stop(),
  };
}

export function defaultReporter(): ProgressReporter {
  const behindFilter = Deno.permissions.querySync({ name: "env", variable: STDERR_TTY }).state === "granted" &&
    Deno.env.get(STDERR_TTY) === "1";
  return Deno.stderr.isTerminal() || behindFilter ? terminalReporter() : plainReporter((s) => console.error(s));
}

/** Stderr as the terminal stream cli-progress draws on: it writes escape codes and asks for the width. */
function _stderrAsTerminal(): NodeJS.WritableStream {
  const encoder = new TextEncoder();
  const columns = Number(Deno.env.get("COLUMNS")) || (Deno.stderr.isTerminal() ? Deno.consoleSize().columns : 100);
  return {
    isTTY: true,
    columns,
    write(text: string | Uint8Array, ...rest: unknown[]) {
      const bytes = typeof text === "string" ? encoder.encode(text) : text;
      for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      done?.();
      return true;
    },
    on: () => {},
    once: () => {},
    removeListener: () => {},
  } as unknown as NodeJS.WritableStream;
}
