// The reference's summary table (`LVISEval.print_results`), character for character.
import { IOU_THRESHOLDS } from "./params.ts";

/**
 * Python's `"{:0.<digits>f}".format(x)`: the exact decimal expansion, ties to even.
 *
 * @example
 * ```ts
 * formatFixed(0.0625, 3); // "0.062" (JavaScript's toFixed gives "0.063")
 * ```
 */
export function formatFixed(x: number, digits: number): string {
  const m = /^(\d+)\.(\d+)$/.exec(Math.abs(x).toFixed(60))!;
  const tail = m[2].slice(digits);
  if (/^50*$/.test(tail) && Number(m[2][digits - 1]) % 2 === 0) {
    // toFixed rounds exact ties away from zero; Python rounds them to even.
    return (x < 0 ? "-" : "") + `${m[1]}.${m[2].slice(0, digits)}`;
  }
  return x.toFixed(digits);
}

/**
 * Summary lines for metrics keyed as the reference keys them.
 *
 * @param results metric name -> value (from `summarize`)
 * @param maxDets the per-image cap shown in each line (-1 for none)
 * @returns one line per metric, as the reference prints them
 * @example
 * ```ts
 * for (const line of summaryLines(summary.results, 300)) console.log(line);
 * ```
 */
export function summaryLines(results: Record<string, number>, maxDets: number): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(results)) {
    const [title, type] = key.includes("AP") ? ["Average Precision", "(AP)"] : ["Average Recall", "(AR)"];
    const c = key[2] ?? "";
    const iou = key.length > 2 && c >= "0" && c <= "9"
      ? formatFixed(Number(key.slice(2)) / 100, 2)
      : `${formatFixed(IOU_THRESHOLDS[0], 2)}:${formatFixed(IOU_THRESHOLDS[9], 2)}`;
    const group = key.length > 2 && "rcf".includes(c) ? c : "all";
    const area = key.length > 2 && "sml".includes(c) ? c : "all";
    lines.push(
      ` ${title.padEnd(18)} ${type} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${
        String(maxDets).padStart(3)
      } catIds=${group.padStart(3)}] = ${formatFixed(value, 3)}`,
    );
  }
  return lines;
}
