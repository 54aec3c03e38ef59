"""The peer for bench/eval_command.ts: lvis-api's LVISEval, unmodified, on a bbox case.

    LVIS_API=/path/to/lvis-api /usr/bin/python3 bench/eval_lvis_api_peer.py GT DT [OUT.json]

LVIS_API is a checkout of github.com/lvis-dataset/lvis-api at 7d7f07d (the
commit the shared fixtures were made with). pycocotools cannot be installed
here, so its `mask` module is stood in for by a numpy spelling of maskApi.c's
box IoU (bbIou: doubles, the same operations in the same order); that is all
LVISEval uses of it for bbox. The visualiser's imports (cv2, matplotlib) are
stubbed too: evaluation never calls them. Prints lvis-api's table; OUT gets its
`LVISEval.results` with full precision.
"""

import json
import os
import sys
import types

import numpy as np


def _box_iou(dt, gt, iscrowd):
    """pycocotools.mask.iou for boxes: [len(dt), len(gt)], 0 where the boxes do not overlap."""
    if len(dt) == 0 or len(gt) == 0:
        return []
    d = np.asarray(dt, dtype=np.float64).reshape(-1, 4)
    g = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    crowd = np.asarray(iscrowd, dtype=bool)[None, :]
    w = np.minimum(d[:, None, 2] + d[:, None, 0], g[None, :, 2] + g[None, :, 0]) - np.maximum(d[:, None, 0], g[None, :, 0])
    h = np.minimum(d[:, None, 3] + d[:, None, 1], g[None, :, 3] + g[None, :, 1]) - np.maximum(d[:, None, 1], g[None, :, 1])
    inter = w * h
    da = (d[:, 2] * d[:, 3])[:, None]
    ga = (g[:, 2] * g[:, 3])[None, :]
    union = np.where(crowd, da, da + ga - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((w > 0) & (h > 0), inter / union, 0.0)


def _install_stubs():
    mask = types.ModuleType("pycocotools.mask")
    mask.iou = _box_iou
    package = types.ModuleType("pycocotools")
    package.mask = mask
    sys.modules["pycocotools"] = package
    sys.modules["pycocotools.mask"] = mask
    # lvis/__init__.py also imports the visualiser (cv2, matplotlib), which evaluation never calls.
    for name in ["cv2", "matplotlib", "matplotlib.pyplot", "matplotlib.patches"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["matplotlib.patches"].Polygon = None


def main():
    gt, dt = sys.argv[1], sys.argv[2]
    _install_stubs()
    sys.path.insert(0, os.environ["LVIS_API"])
    from lvis import LVISEval  # noqa: E402 (needs the stub first)

    ev = LVISEval(gt, dt, "bbox")
    ev.run()
    ev.print_results()
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            json.dump({k: float(v) for k, v in ev.get_results().items()}, f)


if __name__ == "__main__":
    main()
