/**
 * `deno task eval`: LVIS evaluation from the command line.
 *
 *   deno task eval --gt gt.json --dt results.json [--iou-type bbox|segm] [--max-dets 300]
 *     [--ap-fixed [--dets-per-cat 10000]] [--ap-pooled] [--raw] [--out metrics.json]
 *   deno task eval --gt gt.json --dt results.json --shard 0/4 --partial-out part0.json
 *   deno task eval --merge part0.json part1.json ... [--ap-pooled] [--out metrics.json]
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { evaluate } from "./evaluate.ts";
import { readGroundTruth } from "./ground_truth.ts";
import { categoryShard, readOptionsFor, reportFromState } from "./lvis_eval.ts";
import { mergeStates } from "./merge.ts";
import { readResults } from "./results_file.ts";
import { readState, writeState } from "./state_file.ts";

function _int(v: string): number {
  if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

function _shard(v: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[1]) >= Number(m[2])) {
    throw new InvalidArgumentError(`expected i/n with i < n, got ${JSON.stringify(v)}`);
  }
  return [Number(m[1]), Number(m[2])];
}

/** Run a write, turning a refused or failed write into a one-line InputError. */
async function _write(path: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    throw new InputError(`Cannot write ${JSON.stringify(path)}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Build the command (exported for tests). */
export function evalCommand() {
  return new Command()
    .name("eval")
    .description("LVIS evaluation with the official API's numbers")
    .option("--gt <path>", "ground truth (LVIS v1 JSON)")
    .option("--dt <path>", "results (JSON list)")
    .addOption(new Option("--iou-type <type>", "what to match").choices(["bbox", "segm"] as const).default("bbox"))
    .option("--max-dets <n>", "results kept per image, across categories (-1: no cap)", _int, 300)
    .option("--ap-fixed", "AP-fixed: top results per category over the file, no per-image cap")
    .option("--dets-per-cat <n>", "results per category for AP-fixed", _int, 10000)
    .option("--ap-pooled", "also report AP-pooled-{all,r,c,f} (with --ap-fixed: Dave et al.'s protocol)")
    .option("--raw", "include the precision/recall arrays in the JSON")
    .option("--out <path>", "write the metrics JSON here")
    .option("--shard <i/n>", "evaluate only category shard i of n", _shard)
    .option("--partial-out <path>", "with --shard: write the partial evaluation here")
    .option("--merge <partials...>", "merge partial evaluations instead of reading --gt/--dt")
    .option("--quiet", "do not print the summary table");
}

/** Run the CLI with `args`; returns the exit code. */
export async function runEvalCli(args: string[]): Promise<number> {
  const cmd = evalCommand().exitOverride();
  try {
    cmd.parse(args, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 1;
  }
  const o = cmd.opts();
  try {
    if (o.shard && !o.partialOut) throw new InputError("--shard needs --partial-out <path>");
    let state;
    if (o.merge) state = mergeStates(await Promise.all(o.merge.map(readState)));
    else {
      if (!o.gt || !o.dt) throw new InputError("Both --gt and --dt are required (or --merge)");
      const gt = await readGroundTruth(o.gt, o.iouType === "segm");
      const options = {
        iouType: o.iouType,
        maxDets: o.apFixed ? -1 : o.maxDets,
        detsPerCat: o.apFixed ? o.detsPerCat : -1,
        pooled: !!o.apPooled || !!o.shard,
        categoryIds: o.shard ? categoryShard(gt, o.shard[0], o.shard[1]) : undefined,
      };
      state = evaluate(gt, await readResults(o.dt, gt, readOptionsFor(options)), options);
    }
    if (o.shard) {
      await _write(o.partialOut!, () => writeState(o.partialOut!, state));
      return 0;
    }
    const report = reportFromState(state, { pooled: !!o.apPooled, raw: !!o.raw });
    if (!o.quiet) { for (const line of report.print_results) console.log(line); }
    if (o.out) await _write(o.out, () => writeJsonAtomic(o.out!, report));
    return 0;
  } catch (e) {
    if (e instanceof InputError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await runEvalCli(Deno.args));
