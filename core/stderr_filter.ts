// wgpu logs from native code straight to stderr, out of JavaScript's reach (one driver quirk per dispatch
// became hundreds of blocks), so the CLI runs itself as a child and shows each distinct wgpu block once.

const WGPU_BLOCK = /^(wgpu-hal\b|wgpu_hal\b|wgpu_core\b|wgpu\b)/;
/** A block's continuation lines (indented, or starting with a backquote as wgpu-hal's texture notes do). */
const CONTINUATION = /^[\s`]/;

/** Filters a text stream: `push` each chunk, then `end` once; non-wgpu text passes at once. */
export class StderrFilter {
  #held = "";
  #block: string[] | null = null;
  /** The rest of the current line goes straight out: its start was not wgpu's. */
  #passing = false;
  readonly #seen = new Map<string, number>();

  constructor(private readonly write: (text: string) => void) {}

  push(chunk: string): void {
    let text = this.#held + chunk;
    this.#held = "";
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
      this.#line(text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    if (!text) return;
    if (this.#passing) this.write(text);
    else if (this.#block || _mayStartBlock(text)) this.#held = text;
    else {
      // A partial line that is not wgpu's (a progress bar redrawn in place) is not held back.
      this.write(text);
      this.#passing = true;
    }
  }

  end(): void {
    if (this.#held) {
      const rest = this.#held;
      this.#held = "";
      if (this.#block && !CONTINUATION.test(rest)) this.#closeBlock();
      if (this.#block) this.#block.push(rest);
      else this.write(rest);
    }
    if (this.#block) this.#closeBlock();
    let repeats = 0, kinds = 0;
    for (const n of this.#seen.values()) {
      if (n > 1) kinds++;
      repeats += n - 1;
    }
    if (repeats > 0) {
      this.write(
        `note: ${repeats} repeat${repeats === 1 ? "" : "s"} of the wgpu message${kinds === 1 ? "" : "s"} above ` +
          `left out (TAILOR_STDERR=raw shows them all)\n`,
      );
    }
  }

  get counts(): { shown: number; repeats: number } {
    let repeats = 0;
    for (const n of this.#seen.values()) repeats += n - 1;
    return { shown: this.#seen.size, repeats };
  }

  #line(line: string): void {
    if (this.#passing) {
      this.#passing = false;
      this.write(line + "\n");
      return;
    }
    if (this.#block) {
      if (line === "") return this.#closeBlock();
      if (CONTINUATION.test(line)) {
        this.#block.push(line);
        return;
      }
      this.#closeBlock();
    }
    if (WGPU_BLOCK.test(line)) this.#block = [line];
    else this.write(line + "\n");
  }

  #closeBlock(): void {
    const text = this.#block!.join("\n");
    this.#block = null;
    const n = this.#seen.get(text) ?? 0;
    this.#seen.set(text, n + 1);
    if (n === 0) this.write(text + "\n\n");
  }
}

function _mayStartBlock(partial: string): boolean {
  return WGPU_BLOCK.test(partial) || "wgpu".startsWith(partial) || /^wgpu[-_]?\w*$/.test(partial);
}

/**
 * Run `command` with its stderr filtered onto ours and return its exit code. An interrupt from the
 * terminal reaches the child itself; one sent to this process alone (kill) is passed on.
 */
export async function runFilteringStderr(command: string[], env: Record<string, string> = {}): Promise<number> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  const fromTerminal = Deno.stdin.isTerminal();
  const forward = (signal: Deno.Signal) => () => {
    // The terminal already sent Ctrl-C to the whole process group; a second copy would mean "quit now".
    if (signal === "SIGINT" && fromTerminal) return;
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  const encoder = new TextEncoder(), decoder = new TextDecoder();
  const filter = new StderrFilter((text) => _writeAll(Deno.stderr, encoder.encode(text)));
  try {
    for await (const chunk of child.stderr) filter.push(decoder.decode(chunk, { stream: true }));
    filter.push(decoder.decode());
    filter.end();
    const status = await child.status;
    return status.signal ? 128 + _signalNumber(status.signal) : status.code;
  } finally {
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  }
}

function _writeAll(out: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += out.writeSync(bytes.subarray(off));
}

function _signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11 } as Record<string, number>)[signal] ?? 1;
}

/** Set in the child, so that it runs the command instead of starting another child. */
const CHILD = "TAILOR_STDERR_CHILD";
/** Set in the child when the parent's stderr is a terminal: the child draws progress bars all the same. */
export const STDERR_TTY = "TAILOR_STDERR_TTY";

/**
 * Rerun this command line as a child with its stderr filtered and return its exit code; null where not
 * possible or not wanted (in the child, `TAILOR_STDERR=raw`, off Linux since the flags come from
 * /proc/self/cmdline, or without permission to run Deno): then run the command here.
 */
export async function filterOwnStderr(): Promise<number | null> {
  if (Deno.build.os !== "linux") return null;
  const env = (name: string) =>
    Deno.permissions.querySync({ name: "env", variable: name }).state === "granted" ? Deno.env.get(name) : undefined;
  if (env(CHILD) || env("TAILOR_STDERR") === "raw") return null;
  let argv: string[];
  try {
    if (Deno.permissions.querySync({ name: "read", path: "/proc/self/cmdline" }).state !== "granted") return null;
    argv = (await Deno.readTextFile("/proc/self/cmdline")).split("\0").filter((a, i, all) => a || i < all.length - 1);
    const exe = Deno.execPath();
    if (Deno.permissions.querySync({ name: "run", command: exe }).state !== "granted") return null;
    argv[0] = exe;
  } catch {
    return null;
  }
  const childEnv: Record<string, string> = { [CHILD]: "1" };
  if (Deno.stderr.isTerminal()) {
    childEnv[STDERR_TTY] = "1";
    childEnv.COLUMNS = String(_columns());
  }
  return await runFilteringStderr(argv, childEnv);
}

function _columns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 100;
  }
}
