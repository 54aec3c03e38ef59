/**
 * Mask paste + RLE encoding of 300 detections on an 800x1333 image, and the
 * mask targets of 256 positive RoIs, against torchvision 0.14 on the same
 * inputs in the same run (bench/torch_masks.py).
 *
 *   deno run -A bench/masks.ts [--runs 7] [--model]
 *
 * --model also times torchvision's maskrcnn_resnet50_fpn on the same image
 * size: the model time that paste and encoding are measured against.
 */
import { Rng } from "../core/rng.ts";
import { maskToSegmentation } from "../eval/rle_encode.ts";
import { encodeMask } from "../eval/rle_encode.ts";
import { maskTargets } from "../model/masks/mask_targets.ts";
import { pasteMasks } from "../model/masks/paste_masks.ts";

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};
const RUNS = Number(arg("runs", "7"));
const [H, W, M, N] = [800, 1333, 28, 300];
const [GT, ROIS, TARGET_SIZE] = [15, 256, 28];
const dir = "/tmp/tailor_masks_bench";
const rng = new Rng(17);

/** Boxes as a detector gives them: inside the image, sides log-uniform over 16-600 px. */
function boxes(n: number): Float32Array {
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const bw = Math.exp(rng.uniform(Math.log(16), Math.log(600))),
      bh = Math.exp(rng.uniform(Math.log(16), Math.log(600)));
    const x = rng.uniform(0, W - bw), y = rng.uniform(0, H - bh);
    out.set([x, y, x + bw, y + bh], 4 * i);
  }
  return out;
}

/** Mask probabilities: sigmoid of a smooth random field per detection. */
function probabilities(n: number): Float32Array {
  const out = new Float32Array(n * M * M);
  for (let i = 0; i < n; i++) {
    const a = rng.normal(), b = rng.normal(), c = rng.uniform(0.1, 0.4), d = rng.uniform(0.1, 0.4);
    for (let y = 0; y < M; y++) {
      for (let x = 0; x < M; x++) {
        const v = 2 - 4 * (((x - M / 2) / M) ** 2 + ((y - M / 2) / M) ** 2) * 6 + a * Math.sin(c * x) +
          b * Math.cos(d * y);
        out[(i * M + y) * M + x] = 1 / (1 + Math.exp(-v));
      }
    }
  }
  return out;
}

/** Ground-truth masks: one ellipse each, as dense bytes (for torch) and column-major RLE (for tailor). */
function groundTruth() {
  const dense = new Uint8Array(GT * H * W);
  const rles = [];
  for (let g = 0; g < GT; g++) {
    const cx = rng.uniform(100, W - 100),
      cy = rng.uniform(100, H - 100),
      rx = rng.uniform(20, 300),
      ry = rng.uniform(20, 300);
    const bits = new Uint8Array(H * W);
    for (let x = 0; x < W; x++) {
      for (let y = 0; y < H; y++) {
        if (((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1) {
          bits[x * H + y] = 1;
          dense[(g * H + y) * W + x] = 1;
        }
      }
    }
    rles.push(encodeMask({ height: H, width: W, x: 0, y: 0, cropWidth: W, cropHeight: H, bits }));
  }
  return { dense, rles };
}

function time<T>(fn: () => T): { best: number; median: number; out: T } {
  // One untimed run first, so the JIT has compiled the code being measured.
  let out = fn();
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    out = fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { best: times[0], median: times[Math.floor(times.length / 2)], out };
}

const detBoxes = boxes(N), probs = probabilities(N);
const gt = groundTruth();
const rois = boxes(ROIS);
const matched = Int32Array.from({ length: ROIS }, () => rng.int(GT));
await Deno.mkdir(dir, { recursive: true });
await Deno.writeFile(`${dir}/probs.f32`, new Uint8Array(probs.buffer));
await Deno.writeFile(`${dir}/boxes.f32`, new Uint8Array(detBoxes.buffer));
await Deno.writeFile(`${dir}/gt.u8`, gt.dense);
await Deno.writeFile(`${dir}/rois.f32`, new Uint8Array(rois.buffer));
await Deno.writeFile(`${dir}/matched.i32`, new Uint8Array(matched.buffer));
await Deno.writeTextFile(
  `${dir}/meta.json`,
  JSON.stringify({ height: H, width: W, size: M, runs: RUNS, targetSize: TARGET_SIZE }),
);

const paste = time(() => pasteMasks(probs, detBoxes, { imageHeight: H, imageWidth: W }));
const encode = time(() => paste.out.map(maskToSegmentation));
const both = time(() => pasteMasks(probs, detBoxes, { imageHeight: H, imageWidth: W }).map(maskToSegmentation));
let foreground = 0;
for (const p of paste.out) for (const b of p.bits) foreground += b;
const targets = time(() =>
  maskTargets({ masks: { height: H, width: W, rles: gt.rles }, boxes: rois, matched, size: TARGET_SIZE })
);
const targetsSum = targets.out.reduce((a, b) => a + b, 0);

const peerArgs = ["bench/torch_masks.py", dir, ...(Deno.args.includes("--model") ? ["--model"] : [])];
const peerOut = await new Deno.Command("/usr/bin/python3", { args: peerArgs, stderr: "inherit" }).output();
const peer = JSON.parse(new TextDecoder().decode(peerOut.stdout));
const ms = (v: number) => v.toFixed(1);
const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
console.log(`load average ${load}; best / median of ${RUNS} runs, ms; peer: ${peer.version}, ${peer.threads} threads`);
console.log("| step | tailor | torchvision |");
console.log("| --- | --- | --- |");
console.log(
  `| paste ${N} masks (28x28) into ${H}x${W}, threshold 0.5 | ${ms(paste.best)} / ${ms(paste.median)} | ${
    ms(peer.pasteMs[0])
  } / ${ms(peer.pasteMs[1])} |`,
);
console.log(`| RLE-encode them (pycocotools strings) | ${ms(encode.best)} / ${ms(encode.median)} | |`);
console.log(`| paste + encode | ${ms(both.best)} / ${ms(both.median)} | |`);
console.log(
  `| mask targets, ${ROIS} RoIs, ${GT} masks of ${H}x${W}, M = ${TARGET_SIZE} | ${ms(targets.best)} / ${
    ms(targets.median)
  } | ${ms(peer.targetsMs[0])} / ${ms(peer.targetsMs[1])} |`,
);
if (peer.modelMs) {
  console.log(
    `| maskrcnn_resnet50_fpn inference, one ${H}x${W} image | | ${ms(peer.modelMs[0])} / ${ms(peer.modelMs[1])} |`,
  );
}
console.log(
  `check: foreground pixels ${foreground} vs ${peer.pasteForeground}; target sums ${targetsSum.toFixed(3)} vs ${
    peer.targetsSum.toFixed(3)
  }`,
);
