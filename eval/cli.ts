/**
 * `deno task eval`: LVIS evaluation from the command line.
 *
 *   deno task eval --gt gt.json --dt results.json [--iou-type bbox|segm|bbox,segm] [--max-dets 300]
 *     [--ap-fixed [--dets-per-cat 10000]] [--ap-pooled] [--mask-area] [--unknown-categories error|drop]
 *     [--raw] [--out metrics.json [--format tailor|lvis-api]]
 *   deno task eval --gt gt.json --dt r.bbox.json r.segm.json ...      (one file per IoU type)
 *   deno task eval --gt gt.json --dt results.json --shard 0/4 --partial-out part0.json
 *   deno task eval --merge part0.json part1.json ... [--ap-pooled] [--out metrics.json]
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { writeJsonAtomic } from "../core/atomic.ts";
import { InputError } from "../core/errors.ts";
import { evaluate, type EvaluateOptions } from "./evaluate.ts";
import { lvisApiResults, lvisEvalAll } from "./evaluate_files.ts";
import type { IouType } from "./geometry.ts";
import { readGroundTruth } from "./ground_truth.ts";
import { categoryShard, type LvisEvalReport, readOptionsFor, reportFromState } from "./lvis_eval.ts";
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

async function _write(path: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    throw new InputError(`Cannot write ${JSON.stringify(path)}: ${(e as Error).message.split("\n")[0]}`);
  }
}

function _iouTypes(v: string): IouType[] {
  const types = v.split(",");
  if (!types.every((t) => t === "bbox" || t === "segm") || new Set(types).size !== types.length) {
    throw new InvalidArgumentError(`expected bbox, segm or bbox,segm, got ${JSON.stringify(v)}`);
  }
  return types as IouType[];
}

export function evalCommand() {
  return new Command()
    .name("tailor-eval")
    .description("LVIS evaluation with the official API's numbers")
    .option("--gt <path>", "ground truth (LVIS v1 JSON, or COCO: see the notes it prints)")
    .option("--dt <paths...>", "results (JSON list); two files: one per IoU type (mmdetection's .bbox/.segm.json)")
    .option("--iou-type <types>", "bbox, segm or bbox,segm (default: bbox; bbox,segm for two files)", _iouTypes)
    .option("--max-dets <n>", "results kept per image, across categories (-1: no cap)", _int, 300)
    .option("--ap-fixed", "AP-fixed: top results per category over the file, no per-image cap")
    .option("--dets-per-cat <n>", "results per category for AP-fixed", _int, 10000)
    .option("--ap-pooled", "also report AP-pooled-{all,r,c,f} (with --ap-fixed: Dave et al.'s protocol)")
    .option("--mask-area", "segm: areas from the masks even where results carry boxes (as detectron2 evaluates)")
    .addOption(
      new Option("--unknown-categories <mode>", "results on category ids the ground truth lacks")
        .choices(["error", "drop"] as const).default("error" as const),
    )
    .option("--raw", "include the precision/recall arrays in the JSON")
    .option("--out <path>", "write the metrics JSON here")
    .addOption(
      new Option("--format <format>", "--out as tailor's report or as lvis-api's LVISEval.results")
        .choices(["tailor", "lvis-api"] as const).default("tailor" as const),
    )
    .option("--shard <i/n>", "evaluate only category shard i of n", _shard)
    .option("--partial-out <path>", "with --shard: write the partial evaluation here")
    .option("--merge <partials...>", "merge partial evaluations instead of reading --gt/--dt")
    .option("--quiet", "do not print the summary table");
}

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
    const options = {
      maxDets: o.apFixed ? -1 : o.maxDets,
      detsPerCat: o.apFixed ? o.detsPerCat : -1,
      pooled: !!o.apPooled || !!o.shard,
      raw: !!o.raw,
      maskArea: !!o.maskArea,
      unknownCategories: o.unknownCategories,
    };
    let reports: { iouType: IouType; report: LvisEvalReport }[];
    if (o.merge) {
      const state = mergeStates(await Promise.all(o.merge.map(readState)));
      reports = [{ iouType: state.iouType, report: reportFromState(state, { pooled: !!o.apPooled, raw: !!o.raw }) }];
    } else {
      if (!o.gt || !o.dt) throw new InputError("Both --gt and --dt are required (or --merge)");
      if (o.shard) {
        await _writeShard(o.gt, o.dt, o.iouType, { ...options, shard: o.shard }, o.partialOut!);
        return 0;
      }
      const all = await lvisEvalAll(o.gt, o.dt, { ...options, pooled: !!o.apPooled, iouTypes: o.iouType });
      for (const note of all.notes) console.error(`note: ${note}`);
      reports = all.reports;
    }
    if (!o.quiet) {
      for (const { iouType, report } of reports) {
        if (reports.length > 1) console.log(`IoU type: ${iouType}`);
        for (const line of report.print_results) console.log(line);
      }
    }
    if (o.out) {
      const body = (r: LvisEvalReport) => (o.format === "lvis-api" ? lvisApiResults(r) : r);
      const out = reports.length === 1
        ? body(reports[0].report)
        : Object.fromEntries(reports.map(({ iouType, report }) => [iouType, body(report)]));
      await _write(o.out, () => writeJsonAtomic(o.out!, out));
    }
    return 0;
  } catch (e) {
    if (e instanceof InputError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function _writeShard(
  gtPath: string,
  dtPaths: string[],
  iouTypes: IouType[] | undefined,
  options: EvaluateOptions & { shard: [number, number]; unknownCategories: "error" | "drop" },
  partialOut: string,
): Promise<void> {
  if (dtPaths.length !== 1 || (iouTypes && iouTypes.length !== 1)) {
    throw new InputError("--shard evaluates one results file for one IoU type");
  }
  const iouType = iouTypes?.[0] ?? "bbox";
  const gt = await readGroundTruth(gtPath, iouType === "segm");
  const dt = await readResults(dtPaths[0], gt, readOptionsFor(options));
  const state = evaluate(gt, dt, {
    ...options,
    iouType,
    categoryIds: categoryShard(gt, options.shard[0], options.shard[1]),
  });
  await _write(partialOut, () => writeState(partialOut, state));
}

if (import.meta.main) Deno.exit(await runEvalCli(Deno.args));
