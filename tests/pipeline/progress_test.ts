import assert from "node:assert/strict";
import { etaSeconds, formatDuration, plainReporter } from "../../pipeline/progress.ts";

Deno.test("etaSeconds() extrapolates the phase's rate, and formatDuration() reads as minutes and seconds", () => {
  assert.equal(etaSeconds({ done: 25, total: 100, elapsedSeconds: 10 }), 30);
  assert.equal(etaSeconds({ done: 0, total: 100, elapsedSeconds: 10 }), undefined, "no rate yet");
  assert.equal(etaSeconds({ done: 5, total: 0, elapsedSeconds: 10 }), undefined, "unknown total");
  assert.equal(etaSeconds({ done: 5, total: 10, elapsedSeconds: 0.2 }), undefined, "too early to tell");
  assert.deepEqual([45, 185, 3725].map(formatDuration), ["45s", "3m05s", "1h02m"]);
});

Deno.test("plainReporter() writes dated lines with the phase, percentage and time left, at most one per interval", () => {
  let now = Date.UTC(2026, 11, 5, 3, 25, 0);
  const lines: string[] = [];
  const r = plainReporter((s) => lines.push(s), 10_000, () => now);
  r.stageStart("train[loss=bce]");
  r.progress("train[loss=bce]", 3, 0, "kernel conv2d", "compile");
  now += 4_000;
  r.progress("train[loss=bce]", 9, 0, "kernel gemm", "compile");
  r.progress("train[loss=bce]", 20, 20, "kernels compiled", "compile");
  r.progress("train[loss=bce]", 1, 100, "loss 8.0", "train");
  now += 10_000;
  r.progress("train[loss=bce]", 41, 100, "loss 2.1", "train");
  now += 2_000;
  r.progress("train[loss=bce]", 42, 100, "loss 2.0", "train");
  now += 12_000;
  r.progress("train[loss=bce]", 100, 100, "loss 1.3", "train");
  r.line("train[loss=bce]: done in 28.0 s");
  assert.deepEqual(lines, [
    "[2026-12-05 03:25:00] train[loss=bce]: compile 3 so far: kernel conv2d",
    "[2026-12-05 03:25:04] train[loss=bce]: compile 100% (20/20): kernels compiled",
    "[2026-12-05 03:25:04] train[loss=bce]: train 1% (1/100): loss 8.0",
    // 40 more steps in 10 s: 59 left take 14.4 s at that rate.
    "[2026-12-05 03:25:14] train[loss=bce]: train 41% (41/100), 14s left: loss 2.1",
    "[2026-12-05 03:25:28] train[loss=bce]: train 100% (100/100): loss 1.3",
    "[2026-12-05 03:25:28] train[loss=bce]: done in 28.0 s",
  ]);
});
