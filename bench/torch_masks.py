"""torchvision 0.14's mask paste and mask targets on the inputs bench/masks.ts wrote, timed.

Called by bench/masks.ts (Debian's python3-torch / python3-torchvision); prints one JSON line:
best and median milliseconds of paste_masks_in_image (+ threshold) and project_masks_on_boxes,
the pasted masks' foreground pixel count (to check both sides computed the same thing), and with
--model the eval-mode time of torchvision's maskrcnn_resnet50_fpn (random weights) on one image.

    /usr/bin/python3 bench/torch_masks.py /tmp/tailor_masks_bench [--model]
"""
import json
import statistics
import sys
import time

import numpy as np
import torch
import torchvision
from torchvision.models.detection.roi_heads import paste_masks_in_image, project_masks_on_boxes


def timed(fn, runs):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times), statistics.median(times), out


def main() -> None:
    d = sys.argv[1]
    meta = json.load(open(f"{d}/meta.json"))
    h, w, m, runs = meta["height"], meta["width"], meta["size"], meta["runs"]
    probs = torch.from_numpy(np.fromfile(f"{d}/probs.f32", np.float32).reshape(-1, 1, m, m))
    boxes = torch.from_numpy(np.fromfile(f"{d}/boxes.f32", np.float32).reshape(-1, 4))
    paste = timed(lambda: paste_masks_in_image(probs, boxes, (h, w)) > 0.5, runs)
    gt = torch.from_numpy(np.fromfile(f"{d}/gt.u8", np.uint8).reshape(-1, h, w))
    rois = torch.from_numpy(np.fromfile(f"{d}/rois.f32", np.float32).reshape(-1, 4))
    matched = torch.from_numpy(np.fromfile(f"{d}/matched.i32", np.int32).astype(np.int64))
    targets = timed(lambda: project_masks_on_boxes(gt, rois, matched, meta["targetSize"]), runs)
    out = {
        "threads": torch.get_num_threads(),
        "version": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
        "pasteMs": paste[:2], "pasteForeground": int(paste[2].sum()),
        "targetsMs": targets[:2], "targetsSum": float(targets[2].double().sum()),
    }
    if "--model" in sys.argv:
        model = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
        image = torch.rand(3, h, w)
        with torch.no_grad():
            model([image])
            out["modelMs"] = timed(lambda: model([image]), 2)[:2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
